package destination_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/etcd-backup/etcd-backup/internal/destination"
	"github.com/etcd-backup/etcd-backup/internal/snapname"
	"github.com/etcd-backup/etcd-backup/internal/testkit"
)

func TestLocalCommitAndAbort(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "new", "dir")
	l, err := destination.OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("created directory: %v, %v; want mode 0700", st, err)
	}
	p, err := l.Create("etcd-snapshot-20261123T170000Z.db")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Write([]byte("data")); err != nil {
		t.Fatal(err)
	}
	// before commit: only a hidden temporary name, never the final one
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || !strings.HasPrefix(entries[0].Name(), ".") || !strings.Contains(entries[0].Name(), ".partial-") {
		t.Fatalf("before commit: %v", entries)
	}
	if objs, err := l.List(context.Background(), "etcd-snapshot-"); err != nil || len(objs) != 0 {
		t.Fatalf("temporary file listed as a snapshot: %v (%v)", objs, err)
	}
	if err := p.Commit(); err != nil {
		t.Fatal(err)
	}
	final := filepath.Join(dir, "etcd-snapshot-20261123T170000Z.db")
	st, err := os.Stat(final)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("final file: %v %v", st, err)
	}
	p.Abort() // after commit: no effect
	if _, err := os.Stat(final); err != nil {
		t.Fatal("abort after commit removed the snapshot")
	}

	// a second writer of the same name fails at commit and leaves the first
	p2, err := l.Create("etcd-snapshot-20261123T170000Z.db")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p2.Write([]byte("other")); err != nil {
		t.Fatal(err)
	}
	if err := p2.Commit(); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("second commit: %v", err)
	}
	if b, err := os.ReadFile(final); err != nil || string(b) != "data" {
		t.Fatalf("existing snapshot overwritten: %q (%v)", b, err)
	}

	p3, err := l.Create("etcd-snapshot-20261124T170000Z.db")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p3.Write([]byte("partial")); err != nil {
		t.Fatal(err)
	}
	p3.Abort()
	entries, err = os.ReadDir(dir)
	if err != nil || len(entries) != 1 {
		t.Fatalf("after abort: %v", entries)
	}
}

func TestLocalListAndDelete(t *testing.T) {
	dir := t.TempDir()
	l, err := destination.OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"etcd-snapshot-a", "etcd-snapshot-b", "other"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(n), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "etcd-snapshot-dir"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "etcd-snapshot-link")); err != nil {
		t.Fatal(err)
	}
	objs, err := l.List(context.Background(), "etcd-snapshot-")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range objs {
		names = append(names, o.Name)
	}
	if strings.Join(names, ",") != "etcd-snapshot-a,etcd-snapshot-b" {
		t.Fatalf("listed %v: directories, links and foreign names must not be", names)
	}
	for _, bad := range []string{"../x", "a/b", "..", ""} {
		if err := l.Delete(context.Background(), bad); err == nil {
			t.Errorf("Delete(%q) accepted", bad)
		}
	}
	if err := l.Delete(context.Background(), "etcd-snapshot-a"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "etcd-snapshot-a")); !os.IsNotExist(err) {
		t.Fatal("not deleted")
	}
}

func TestOpenLocalRefusesAFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := destination.OpenLocal(f); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("err = %v", err)
	}
}

func TestStale(t *testing.T) {
	now := time.Date(2026, 11, 23, 17, 0, 0, 0, time.UTC)
	const prefix = "etcd-snapshot-"
	tmp := "." + snapname.Format(prefix, now.Add(-3*time.Hour), snapname.Plain) + ".partial-0123456789ab"
	cases := []struct {
		name  string
		file  string
		age   time.Duration
		stale bool
	}{
		{"own temporary, untouched for 2h", tmp, 2 * time.Hour, true},
		// no run holds it: its writer is gone, however recent the file
		{"own temporary, unlocked, written a minute ago", tmp, time.Minute, true},
		{"finished snapshot", snapname.Format(prefix, now.Add(-30*24*time.Hour), snapname.Plain), 30 * 24 * time.Hour, false},
		{"other suffix", tmp + "x", 48 * time.Hour, false},
		{"no dot", tmp[1:], 48 * time.Hour, false},
		{"other prefix", ".other-20261123T170000Z.db.partial-0123456789ab", 48 * time.Hour, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			l, err := destination.OpenLocal(dir)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, c.file)
			if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(path, now.Add(-c.age), now.Add(-c.age)); err != nil {
				t.Fatal(err)
			}
			got, err := l.Stale(context.Background(), prefix, now)
			if err != nil {
				t.Fatal(err)
			}
			if (len(got) == 1) != c.stale {
				t.Fatalf("stale = %v, want %v", len(got) == 1, c.stale)
			}
		})
	}
}

// writerEnv makes the test binary a run that writes a temporary file into
// the directory it names and then waits to be killed.
const writerEnv = "DESTINATION_TEST_TEMPORARY_WRITER"

func TestMain(m *testing.M) {
	if dir := os.Getenv(writerEnv); dir != "" {
		if err := writeAndWait(dir); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	os.Exit(m.Run())
}

func writeAndWait(dir string) error {
	l, err := destination.OpenLocal(dir)
	if err != nil {
		return err
	}
	p, err := l.Create(snapname.Format("etcd-snapshot-", time.Now(), snapname.Plain))
	if err != nil {
		return err
	}
	if _, err := p.Write(make([]byte, 1<<20)); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "ready"), nil, 0o600); err != nil {
		return err
	}
	select {}
}

// TestKilledRunsTemporaryRemovedAtOnce: while a run writes its temporary
// file, no other run takes it for left behind; once that run is killed
// (SIGKILL, as the OOM killer does) the next run finds it at once, not an
// hour later.
func TestKilledRunsTemporaryRemovedAtOnce(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), writerEnv+"="+dir)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	child, err := testkit.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(child.Kill)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(dir, "ready")); err == nil {
			break
		}
		select {
		case <-child.Exited():
			t.Fatalf("the writer ended: %s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the writer did not start within 30s: %s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	l, err := destination.OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// Even a day later by the clock, a live run's file is not left behind.
	stale, err := l.Stale(ctx, "etcd-snapshot-", time.Now().Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(stale) != 0 {
		t.Fatalf("a live run's temporary file is taken for left behind: %v", stale)
	}

	child.Kill()
	stale, err = l.Stale(ctx, "etcd-snapshot-", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(stale) != 1 || !strings.Contains(stale[0].Name, ".partial-") {
		t.Fatalf("after the writer was killed, stale = %v, want its temporary file", stale)
	}
}
