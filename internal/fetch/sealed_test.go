package fetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/etcd-backup/etcd-backup/internal/destination"
	"github.com/etcd-backup/etcd-backup/internal/seal"
)

// TestFetchSealed fetches compressed and encrypted snapshots from a
// directory (with the run's sidecar of sums) and a file:// bucket: the
// plaintext lands verified under its .db name; a wrong identity, a flipped
// byte or sums that disagree leave nothing in the target directory.
func TestFetchSealed(t *testing.T) {
	good := snapshot(t)
	right, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	wrong, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	opts := seal.Options{Compression: seal.CompressionZstd, Recipients: []age.Recipient{right.Recipient()}}
	var stored bytes.Buffer
	w, err := seal.NewWriter(&stored, opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(good); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	sums := w.Sums()
	const name = "etcd-snapshot-20261130T000000Z.db.zst.age"
	flipped := bytes.Clone(stored.Bytes())
	flipped[len(flipped)/2] ^= 0x01
	badSidecar := seal.Sums{StoredSHA256: sums.StoredSHA256, PlainSHA256: strings.Repeat("ab", 32)}

	cases := []struct {
		name    string
		bucket  bool
		content []byte
		sidecar []byte
		ids     []age.Identity
		want    error  // nil for success
		wantMsg string // in the error
	}{
		{name: "directory", content: stored.Bytes(), sidecar: sums.Sidecar(name), ids: []age.Identity{right}},
		{name: "directory without sidecar", content: stored.Bytes(), ids: []age.Identity{right}},
		{name: "bucket", bucket: true, content: stored.Bytes(), ids: []age.Identity{right}},
		{name: "wrong identity", content: stored.Bytes(), ids: []age.Identity{wrong}, want: seal.ErrWrongIdentity},
		{name: "no identity", content: stored.Bytes(), want: seal.ErrNoIdentity},
		{name: "flipped byte", content: flipped, ids: []age.Identity{right}, want: seal.ErrCorrupt},
		{name: "plaintext differs from its sidecar", content: stored.Bytes(), sidecar: badSidecar.Sidecar(name), ids: []age.Identity{right}, want: ErrMismatch, wantMsg: "the metadata stored with it says"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := t.TempDir()
			if err := os.WriteFile(filepath.Join(src, name), c.content, 0o600); err != nil {
				t.Fatal(err)
			}
			if c.sidecar != nil {
				if err := os.WriteFile(filepath.Join(src, name+".sha256"), c.sidecar, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			spec := src
			if c.bucket {
				spec = "file://" + src
			}
			r, err := destination.OpenReader(context.Background(), spec)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			a, err := r.Attributes(context.Background(), name)
			if err != nil {
				t.Fatal(err)
			}
			if c.sidecar != nil && (a.SHA256 == "" || a.PlainSHA256 == "") {
				t.Fatalf("the sidecar's sums were not read: %+v", a.Metadata)
			}
			out := filepath.Join(t.TempDir(), "out")
			res, err := Fetch(context.Background(), r, a, out, c.ids)
			left, rerr := os.ReadDir(out)
			if rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
				t.Fatal(rerr)
			}
			if c.want != nil {
				if !errors.Is(err, c.want) || !strings.Contains(fmt.Sprint(err), c.wantMsg) {
					t.Fatalf("error %v, want %v (%q)", err, c.want, c.wantMsg)
				}
				if len(left) != 0 {
					t.Fatalf("a refused fetch left %v", left)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(res.Path)
			if err != nil || !bytes.Equal(got, good) || filepath.Base(res.Path) != "etcd-snapshot-20261130T000000Z.db" {
				t.Fatalf("fetched %s (%v): not the plaintext snapshot", res.Path, err)
			}
			if res.StoredSHA256 != sums.StoredSHA256 || res.SHA256 != sums.PlainSHA256 || res.Status.TotalKey != 50 || len(left) != 1 {
				t.Fatalf("result %+v, dir %v", res, left)
			}
		})
	}
}
