package verify

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"filippo.io/age"

	"github.com/etcd-backup/etcd-backup/internal/scratch"
	"github.com/etcd-backup/etcd-backup/internal/seal"
)

// Stored verifies a stored snapshot of any shape (.db, .db.zst, .db.age,
// .db.zst.age, by its name). A compressed or encrypted one is reversed
// into a private scratch file in scratchDir, since the database check
// needs a file; the scratch file is removed before Stored returns, also on
// failure and cancellation. ids are needed for .age files only.
func Stored(ctx context.Context, path string, ids []age.Identity, scratchDir string) (Status, seal.Sums, error) {
	_, layers := seal.LayersOf(filepath.Base(path))
	if !layers.Any() {
		st, sum, err := File(ctx, path)
		if err != nil {
			return Status{}, seal.Sums{}, err
		}
		fi, err := os.Stat(path)
		if err != nil {
			return Status{}, seal.Sums{}, fmt.Errorf("checking %s: %w", path, err)
		}
		return st, seal.Sums{PlainSHA256: sum, StoredSHA256: sum, PlainSize: fi.Size(), StoredSize: fi.Size()}, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return Status{}, seal.Sums{}, fmt.Errorf("opening %s: %w", path, err)
	}
	defer f.Close()
	r, err := seal.NewReader(f, layers, ids)
	if err != nil {
		return Status{}, seal.Sums{}, fmt.Errorf("opening %s: %w", path, err)
	}
	defer r.Close()
	st, err := Plaintext(ctx, r, scratchDir)
	if err != nil {
		return Status{}, r.Sums(), fmt.Errorf("verifying %s: %w", path, err)
	}
	return st, r.Sums(), nil
}

// Plaintext verifies a snapshot read from r (a plaintext stream: a
// seal.Reader, a download): it is written to an unnamed scratch file in
// dir (see package scratch), its trailer checked as it streams, its
// database checked from the file. The scratch file never outlives the
// call, nor the process.
func Plaintext(ctx context.Context, r io.Reader, dir string) (Status, error) {
	f, err := scratch.Open(dir)
	if err != nil {
		return Status{}, err
	}
	defer f.Close()
	s := NewStream()
	if _, err := io.Copy(io.MultiWriter(f, s), contextReader{ctx: ctx, r: r}); err != nil {
		return Status{}, err
	}
	if err := s.CheckTrailer(); err != nil {
		return Status{}, err
	}
	return Database(ctx, f.Path())
}

// contextReader stops a long copy once ctx is done (SIGTERM).
type contextReader struct {
	ctx context.Context
	r   io.Reader
}

func (c contextReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
