package backup

import (
	"errors"
	"fmt"
	"os"

	"github.com/etcd-backup/etcd-backup/internal/scratch"
	"github.com/etcd-backup/etcd-backup/internal/seal"
	"github.com/etcd-backup/etcd-backup/internal/verify"
)

// snapshotSink takes the snapshot stream of one attempt.
type snapshotSink interface {
	Write([]byte) (int, error)
	// reset prepares for a (new) attempt.
	reset() error
}

// sealedStream takes the plaintext snapshot when the run compresses or
// encrypts: it hashes it (for the trailer), keeps it in an unnamed scratch
// file on the node (for the database check), and seals it into the fan-out
// to the destinations, which so receive only the sealed bytes. Nothing in
// it ever gets a name: the scratch file vanishes with the process.
type sealedStream struct {
	hash    *verify.Stream
	scratch *scratch.File
	opts    seal.Options
	out     *fanout
	w       *seal.Writer
	pipe    *overlap // into w
}

func newSealedStream(work string, opts seal.Options, out *fanout) (*sealedStream, error) {
	if err := os.MkdirAll(work, 0o700); err != nil {
		return nil, fmt.Errorf("creating the work directory ETCD_BACKUP_WORK_DIR=%s: %w", work, err)
	}
	f, err := scratch.Open(work)
	if err != nil {
		return nil, fmt.Errorf("the work directory ETCD_BACKUP_WORK_DIR=%s cannot take the plaintext copy verification reads: %w", work, err)
	}
	opts.PlainHashedElsewhere = true // hash does it
	return &sealedStream{hash: verify.NewStream(), scratch: f, opts: opts, out: out}, nil
}

func (s *sealedStream) Write(b []byte) (int, error) {
	s.hash.Write(b)
	if _, err := s.scratch.Write(b); err != nil {
		return 0, err
	}
	if _, err := s.pipe.Write(b); err != nil {
		return 0, err
	}
	return len(b), nil
}

// reset starts an attempt: an empty scratch file, empty temporary files and
// a new sealed stream (a new age file key).
func (s *sealedStream) reset() error {
	if s.w != nil {
		_ = s.pipe.close() // the failed attempt's error is the retry's reason already
		s.hash = verify.NewStream()
		if err := s.scratch.Reset(); err != nil {
			return err
		}
		if err := s.out.reset(); err != nil {
			return err
		}
	}
	w, err := seal.NewWriter(s.out, s.opts)
	if err != nil {
		return err
	}
	s.w, s.pipe = w, newOverlap(w)
	return nil
}

// finish ends the sealed stream (the last zstd block and its checksum, the
// last age chunk), once the snapshot has arrived.
func (s *sealedStream) finish() error {
	if err := s.pipe.close(); err != nil {
		return err
	}
	return s.w.Close()
}

// sums of the plaintext and of what was stored.
func (s *sealedStream) sums() seal.Sums {
	sums := s.w.Sums()
	sums.PlainSHA256 = s.hash.SHA256()
	sums.StoredSHA256 = s.out.hash.SHA256()
	return sums
}

// close drops the plaintext copy and stops the sealing goroutine.
func (s *sealedStream) close() {
	if s.pipe != nil {
		_ = s.pipe.close() // after finish or a failure, whose error is reported
	}
	s.scratch.Close()
}

// scratchPending is a scratch file in the place of a destination's
// temporary file: written, verified and uploaded from, never committed.
type scratchPending struct{ *scratch.File }

func (s scratchPending) Final() string { return "" }
func (s scratchPending) Sync() error   { return nil }
func (s scratchPending) Abort()        { s.Close() }
func (s scratchPending) Commit() error { return errors.New("a scratch file is never committed") }
