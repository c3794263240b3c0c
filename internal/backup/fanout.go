package backup

import (
	"errors"
	"log/slog"

	"github.com/etcd-backup/etcd-backup/internal/destination"
	"github.com/etcd-backup/etcd-backup/internal/verify"
)

// fanout writes the stream to the hash and to every local temporary file.
// A directory that fails (full, read-only) drops out and the others go on.
type fanout struct {
	log     *slog.Logger
	hash    *verify.Stream
	targets []*target
	scratch destination.Pending
}

func (f *fanout) Write(b []byte) (int, error) {
	f.hash.Write(b)
	alive := 0
	for _, t := range f.targets {
		if t.writeErr != nil {
			continue
		}
		if _, err := t.pending.Write(b); err != nil {
			t.drop(err)
			f.log.Error("destination dropped while writing the snapshot", "destination", t.res.Destination, "error", err.Error())
			continue
		}
		alive++
	}
	if f.scratch != nil {
		if _, err := f.scratch.Write(b); err != nil {
			return 0, err
		}
		alive++
	}
	if alive == 0 {
		return 0, errors.New("every destination failed while the snapshot was written")
	}
	return len(b), nil
}

// reset prepares for a (new) attempt: a fresh hash and empty temporary
// files. A directory that failed stays out.
func (f *fanout) reset() error {
	if f.hash.Size() == 0 {
		return nil // first attempt
	}
	f.hash = verify.NewStream()
	for _, t := range f.targets {
		if t.writeErr != nil {
			continue
		}
		if err := t.pending.Reset(); err != nil {
			t.drop(err)
		}
	}
	if f.scratch != nil {
		return f.scratch.Reset()
	}
	return nil
}

// source is a complete temporary file to verify, "" if none is left.
func (f *fanout) source() string {
	for _, t := range f.targets {
		if t.writeErr == nil {
			return t.pending.Path()
		}
	}
	if f.scratch != nil {
		return f.scratch.Path()
	}
	return ""
}

// keepSourceCached asks the file that will be verified to keep its pages in
// the page cache; the other copies drop theirs once they are on disk.
func (f *fanout) keepSourceCached() {
	var p destination.Pending = f.scratch
	for _, t := range f.targets {
		if t.writeErr == nil {
			p = t.pending
			break
		}
	}
	if k, ok := p.(interface{ KeepCached() }); ok {
		k.KeepCached()
	}
}
