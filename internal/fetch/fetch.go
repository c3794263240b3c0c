// Package fetch copies one snapshot out of a destination into a local
// directory and verifies it the way a backup run verifies a new snapshot:
// the sha256 trailer, the bbolt consistency check and the status figures,
// plus the sha256 stored with the object when there is one. A compressed or
// encrypted snapshot is reversed on the way: the local file is the
// plaintext .db, ready for restore. The file gets its final name only once
// all of that has passed; a file that fails is removed.
package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"

	"filippo.io/age"

	"github.com/etcd-backup/etcd-backup/internal/destination"
	"github.com/etcd-backup/etcd-backup/internal/seal"
	"github.com/etcd-backup/etcd-backup/internal/verify"
)

// Result is a fetched and verified snapshot. SHA256 and Size are those of
// the local (plaintext) file; for a compressed or encrypted one, Stored and
// StoredSHA256 name what the destination holds.
type Result struct {
	Path         string        `json:"path"`
	SHA256       string        `json:"sha256"`
	Size         int64         `json:"size"`
	Stored       string        `json:"stored,omitempty"`
	StoredSHA256 string        `json:"stored_sha256,omitempty"`
	Status       verify.Status `json:"status"`
}

// ErrMismatch means the copy differs from what the destination says it
// stored.
var ErrMismatch = errors.New("the fetched copy does not match the stored snapshot")

// Fetch copies the snapshot a (read through r) to dir/<name>, created 0700
// when missing, the file 0600; a compressed or encrypted one goes to
// dir/<name without .zst and .age>, decrypted with ids. An existing file of
// that name is never replaced.
func Fetch(ctx context.Context, r destination.Reader, a destination.Attributes, dir string, ids []age.Identity) (Result, error) {
	if _, layers := seal.LayersOf(a.Name); layers.Any() {
		return fetchSealed(ctx, r, a, dir, ids)
	}
	local, err := destination.OpenLocal(dir)
	if err != nil {
		return Result{}, err
	}
	p, err := local.Create(a.Name)
	if err != nil {
		return Result{}, err
	}
	defer p.Abort()
	stream := verify.NewStream()
	if err := copyObject(ctx, r, a, io.MultiWriter(p, stream)); err != nil {
		return Result{}, err
	}
	st, err := check(ctx, p.Path(), stream, a)
	if err != nil {
		return Result{}, fmt.Errorf("verifying %s fetched from %s: %w", a.Name, r, err)
	}
	if err := p.Commit(); err != nil {
		return Result{}, err
	}
	return Result{Path: p.Final(), SHA256: stream.SHA256(), Size: stream.Size(), Status: st}, nil
}

func copyObject(ctx context.Context, r destination.Reader, a destination.Attributes, w io.Writer) error {
	rc, err := r.Read(ctx, a.Name)
	if err != nil {
		return err
	}
	defer rc.Close()
	n, err := io.Copy(w, rc)
	if err != nil {
		return fmt.Errorf("copying %s from %s: %w", a.Name, r, err)
	}
	if n != a.Size {
		return fmt.Errorf("%w: %s from %s has %d bytes, the destination lists %d", ErrMismatch, a.Name, r, n, a.Size)
	}
	return nil
}

// check verifies the copy at path, whose bytes went through stream: first
// against what the destination stored, then on its own.
func check(ctx context.Context, path string, stream *verify.Stream, a destination.Attributes) (verify.Status, error) {
	if a.SHA256 != "" && stream.SHA256() != a.SHA256 {
		return verify.Status{}, fmt.Errorf("%w: its sha256 is %s, the metadata stored with it says %s", ErrMismatch, stream.SHA256(), a.SHA256)
	}
	if err := stream.CheckTrailer(); err != nil {
		return verify.Status{}, err
	}
	st, err := verify.Database(ctx, path)
	if err != nil {
		return verify.Status{}, err
	}
	if a.Revision != 0 && st.Revision != a.Revision {
		return verify.Status{}, fmt.Errorf("%w: its revision is %d, the metadata stored with it says %d", ErrMismatch, st.Revision, a.Revision)
	}
	return st, nil
}

// fetchSealed reverses the layers while the object streams in. A wrong or
// missing identity is found in the age header, before any file is made;
// damage anywhere fails the copy, whose temporary file then goes.
func fetchSealed(ctx context.Context, r destination.Reader, a destination.Attributes, dir string, ids []age.Identity) (Result, error) {
	base, layers := seal.LayersOf(a.Name)
	rc, err := r.Read(ctx, a.Name)
	if err != nil {
		return Result{}, err
	}
	defer rc.Close()
	sr, err := seal.NewReader(rc, layers, ids)
	if err != nil {
		return Result{}, fmt.Errorf("opening %s from %s: %w", a.Name, r, err)
	}
	defer sr.Close()
	local, err := destination.OpenLocal(dir)
	if err != nil {
		return Result{}, err
	}
	p, err := local.Create(base)
	if err != nil {
		return Result{}, err
	}
	defer p.Abort()
	stream := verify.NewStream()
	if _, err := io.Copy(io.MultiWriter(p, stream), sr); err != nil {
		return Result{}, fmt.Errorf("reading %s from %s: %w", a.Name, r, err)
	}
	sums := sr.Sums()
	switch {
	case sums.StoredSize != a.Size:
		return Result{}, fmt.Errorf("%w: %s from %s has %d bytes, the destination lists %d", ErrMismatch, a.Name, r, sums.StoredSize, a.Size)
	case a.SHA256 != "" && sums.StoredSHA256 != a.SHA256:
		return Result{}, fmt.Errorf("%w: %s has sha256 %s, the metadata stored with it says %s", ErrMismatch, a.Name, sums.StoredSHA256, a.SHA256)
	}
	plain := a
	plain.SHA256 = a.PlainSHA256 // check compares the plaintext with it
	st, err := check(ctx, p.Path(), stream, plain)
	if err != nil {
		return Result{}, fmt.Errorf("verifying %s fetched from %s: %w", a.Name, r, err)
	}
	if err := p.Commit(); err != nil {
		return Result{}, err
	}
	return Result{Path: p.Final(), SHA256: stream.SHA256(), Size: stream.Size(), Stored: a.Name, StoredSHA256: sums.StoredSHA256, Status: st}, nil
}
