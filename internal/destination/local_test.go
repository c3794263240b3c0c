package destination_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/etcd-backup/etcd-backup/internal/destination"
	"github.com/etcd-backup/etcd-backup/internal/snapname"
)

func TestLocalCommitAndAbort(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "new", "dir")
	l, err := destination.OpenLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 {
		t.Errorf("created directory mode %v, want 0700", st.Mode().Perm())
	}
	p, err := l.Create("etcd-snapshot-20261123T170000Z.db")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Write([]byte("data")); err != nil {
		t.Fatal(err)
	}
	// before commit: only a hidden temporary name, never the final one
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || !strings.HasPrefix(entries[0].Name(), ".") || !strings.Contains(entries[0].Name(), ".partial-") {
		t.Fatalf("before commit: %v", entries)
	}
	if objs, _ := l.List(context.Background(), "etcd-snapshot-"); len(objs) != 0 {
		t.Fatalf("temporary file listed as a snapshot: %v", objs)
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
	p2, _ := l.Create("etcd-snapshot-20261123T170000Z.db")
	_, _ = p2.Write([]byte("other"))
	if err := p2.Commit(); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("second commit: %v", err)
	}
	if b, _ := os.ReadFile(final); string(b) != "data" {
		t.Fatalf("existing snapshot overwritten: %q", b)
	}

	p3, _ := l.Create("etcd-snapshot-20261124T170000Z.db")
	_, _ = p3.Write([]byte("partial"))
	p3.Abort()
	entries, _ = os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("after abort: %v", entries)
	}
}

func TestLocalListAndDelete(t *testing.T) {
	dir := t.TempDir()
	l, _ := destination.OpenLocal(dir)
	for _, n := range []string{"etcd-snapshot-a", "etcd-snapshot-b", "other"} {
		_ = os.WriteFile(filepath.Join(dir, n), []byte(n), 0o600)
	}
	_ = os.Mkdir(filepath.Join(dir, "etcd-snapshot-dir"), 0o700)
	_ = os.Symlink("/etc/passwd", filepath.Join(dir, "etcd-snapshot-link"))
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
	_ = os.WriteFile(f, nil, 0o600)
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
		{"own temporary, written a minute ago", tmp, time.Minute, false},
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
