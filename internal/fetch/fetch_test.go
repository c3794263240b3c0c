package fetch

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/etcd-backup/etcd-backup/internal/destination"
	"github.com/etcd-backup/etcd-backup/internal/etcdtest"
	"github.com/etcd-backup/etcd-backup/internal/verify"
)

func TestMain(m *testing.M) {
	verify.RunChild()
	os.Exit(m.Run())
}

func snapshot(t *testing.T) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	path := filepath.Join(t.TempDir(), "snapshot.db")
	if err := etcdtest.SeededSnapshot(ctx, t.TempDir(), path, "/registry/", 50, 100, nil); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestFetch fetches from a directory: a good snapshot arrives 0600 under
// its name, a damaged one or one that does not match its stored sha256 or
// revision leaves nothing at all in the target directory.
func TestFetch(t *testing.T) {
	good := snapshot(t)
	flipped := append([]byte(nil), good...)
	flipped[len(flipped)/2] ^= 0xff
	const name = "etcd-snapshot-20261130T000000Z.db"
	cases := []struct {
		name    string
		content []byte
		meta    destination.Metadata
		want    string // error; empty for success
	}{
		{name: "good", content: good},
		{name: "damaged", content: flipped, want: "sha256 trailer"},
		{name: "cut short", content: good[:len(good)-100], want: "sha256 trailer"},
		{name: "stored sha256 differs", content: good, meta: destination.Metadata{SHA256: strings.Repeat("ab", 32)}, want: "the metadata stored with it says"},
		{name: "stored revision differs", content: good, meta: destination.Metadata{Revision: 1 << 40}, want: "revision"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := t.TempDir()
			if err := os.WriteFile(filepath.Join(src, name), c.content, 0o600); err != nil {
				t.Fatal(err)
			}
			r, err := destination.OpenReader(context.Background(), src)
			if err != nil {
				t.Fatal(err)
			}
			a, err := r.Attributes(context.Background(), name)
			if err != nil {
				t.Fatal(err)
			}
			a.Metadata = c.meta
			out := filepath.Join(t.TempDir(), "out")
			res, err := Fetch(context.Background(), r, a, out, nil)
			left, rerr := os.ReadDir(out)
			if rerr != nil {
				t.Fatal(rerr)
			}
			if c.want != "" {
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("error %v, want one saying %q", err, c.want)
				}
				if len(left) != 0 {
					t.Fatalf("a refused fetch left %v", left)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			st, err := os.Stat(res.Path)
			if err != nil || st.Mode().Perm() != 0o600 || len(left) != 1 || res.Status.TotalKey != 50 {
				t.Fatalf("fetched %+v: %v %v, dir %v", res, st, err, left)
			}
		})
	}
}

func TestFetchMissing(t *testing.T) {
	r, err := destination.OpenReader(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Read(context.Background(), "etcd-snapshot-20261130T000000Z.db")
	if !errors.Is(err, destination.ErrNotFound) {
		t.Fatalf("reading a missing snapshot: %v, want ErrNotFound", err)
	}
	if _, err := destination.OpenReader(context.Background(), filepath.Join(t.TempDir(), "none")); err == nil {
		t.Fatal("opening a missing directory for reading succeeded")
	}
}
