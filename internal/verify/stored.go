package verify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"filippo.io/age"

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
		fi, serr := os.Stat(path)
		if err == nil && serr != nil {
			err = serr
		}
		sums := seal.Sums{PlainSHA256: sum, StoredSHA256: sum}
		if fi != nil {
			sums.PlainSize, sums.StoredSize = fi.Size(), fi.Size()
		}
		return st, sums, err
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
// seal.Reader, a download): it is written to a private scratch file in dir,
// its trailer checked as it streams, its database checked from the file.
// The scratch file never outlives the call.
func Plaintext(ctx context.Context, r io.Reader, dir string) (Status, error) {
	path, f, err := scratchFile(dir)
	if err != nil {
		return Status{}, err
	}
	defer os.Remove(path)
	s := NewStream()
	_, err = io.Copy(io.MultiWriter(f, s), contextReader{ctx: ctx, r: r})
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("writing the scratch file %s: %w", path, cerr)
	}
	if err != nil {
		return Status{}, err
	}
	if err := s.CheckTrailer(); err != nil {
		return Status{}, err
	}
	return Database(ctx, path)
}

// scratchFile is a new 0600 file whose name marks it as this tool's
// scratch: it holds plaintext and must never be taken for a snapshot.
func scratchFile(dir string) (string, *os.File, error) {
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return "", nil, fmt.Errorf("making a scratch name: %w", err)
	}
	path := filepath.Join(dir, ".etcd-backup-verify-"+hex.EncodeToString(rnd[:]))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", nil, fmt.Errorf("creating a scratch file in %s: %w", dir, err)
	}
	return path, f, nil
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
