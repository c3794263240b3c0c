package restore

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/etcd-backup/etcd-backup/internal/cli"
	"github.com/etcd-backup/etcd-backup/internal/etcdtest"
	"github.com/etcd-backup/etcd-backup/internal/verify"
)

// embeddedSnapshot is a snapshot of the embedded etcd (this module's
// etcd version), saved over the v3 API.
func embeddedSnapshot(t *testing.T) string {
	t.Helper()
	srv, err := etcdtest.Start(t.TempDir(), etcdtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := srv.Seed(ctx, "/registry/", 100, 100); err != nil {
		t.Fatal(err)
	}
	c, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// etcd 3.6 records its storage version once the cluster version is
	// decided, shortly after start: wait for it rather than guess.
	path := filepath.Join(t.TempDir(), "snapshot.db")
	for {
		if err := etcdtest.WriteSnapshot(ctx, c, path); err != nil {
			t.Fatal(err)
		}
		st, _, err := verify.File(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		if st.StorageVersion != "" {
			return path
		}
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		select {
		case <-ctx.Done():
			t.Fatal("the embedded etcd recorded no storage version")
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// tree is every path under dir with its mode and content hash.
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		v := fmt.Sprintf("%v %v", info.Mode(), info.ModTime().UnixNano())
		if d.Type().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			v += fmt.Sprintf(" %x", sha256.Sum256(b))
		}
		out[p] = v
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRefusals(t *testing.T) {
	snap := embeddedSnapshot(t)
	corrupt := filepath.Join(t.TempDir(), "corrupt.db")
	b, err := os.ReadFile(snap)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(corrupt, b, 0o600); err != nil {
		t.Fatal(err)
	}
	existing := filepath.Join(t.TempDir(), "etcd")
	if err := os.MkdirAll(filepath.Join(existing, "member", "wal"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(existing, "member", "wal", "0000000000000000-0000000000000000.wal"), []byte("the member's own data"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		snapshot string
		dataDir  string
		target   string
		usage    bool
		want     string
	}{
		{name: "non-empty data dir", snapshot: snap, dataDir: existing, usage: true, want: "is not empty"},
		{name: "corrupt snapshot", snapshot: corrupt, want: "sha256 trailer"},
		{name: "newer storage version", snapshot: snap, target: "3.5.21-0", want: "etcd 3.6 data and the target is etcd 3.5"},
		{name: "missing snapshot", snapshot: filepath.Join(t.TempDir(), "nothing.db"), want: "no such file"},
		{name: "bad target version", snapshot: snap, target: "latest", want: "not an etcd version"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dataDir := c.dataDir
			if dataDir == "" {
				dataDir = filepath.Join(t.TempDir(), "restored")
			}
			before := tree(t, filepath.Dir(dataDir))
			_, err := Run(context.Background(), Options{
				Snapshot: c.snapshot, Name: "m0", InitialAdvertisePeerURLs: []string{"https://10.0.0.1:2380"},
				DataDir: dataDir, TargetVersion: c.target,
			}, zap.NewNop())
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one saying %q", err, c.want)
			}
			var ue *cli.UsageError
			if errors.As(err, &ue) != c.usage {
				t.Errorf("usage error (exit 2) = %v, want %v: %v", !c.usage, c.usage, err)
			}
			if after := tree(t, filepath.Dir(dataDir)); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Fatalf("a refused restore changed the disk:\nbefore %v\nafter  %v", before, after)
			}
		})
	}
}

// TestRestoreSameVersionAccepted is the other side of the version check:
// a target of the snapshot's own minor, or a newer one, is restored.
func TestRestoreSameVersionAccepted(t *testing.T) {
	snap := embeddedSnapshot(t)
	for _, target := range []string{"3.6", "v3.6.16", "3.6.15-0", "3.7", ""} {
		t.Run("target "+target, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "restored")
			res, err := Run(context.Background(), Options{
				Snapshot: snap, Name: "m0", InitialAdvertisePeerURLs: []string{"https://10.0.0.1:2380"}, DataDir: dir, TargetVersion: target,
			}, zap.NewNop())
			if err != nil {
				t.Fatal(err)
			}
			if res.DataVersion != (Version{3, 6}) {
				t.Errorf("data version %v, want 3.6", res.DataVersion)
			}
			st, err := os.Stat(dir)
			if err != nil || st.Mode().Perm() != 0o700 {
				t.Fatalf("data dir: %v, mode %v; want 0700", err, st)
			}
			if _, err := os.Stat(filepath.Join(dir, "member", "snap", "db")); err != nil {
				t.Fatal(err)
			}
			left, err := filepath.Glob(filepath.Join(filepath.Dir(dir), ".*restoring*"))
			if err != nil || len(left) != 0 {
				t.Fatalf("temporary directories left behind: %v %v", left, err)
			}
		})
	}
}
