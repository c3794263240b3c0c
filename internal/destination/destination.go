// Package destination stores finished snapshots and lists and deletes them
// again for pruning. A destination is either a local directory (a hostPath or
// a mounted PVC), which receives the snapshot while it streams in, or a
// gocloud.dev/blob bucket, which receives the verified file afterwards.
package destination

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/etcd-backup/etcd-backup/internal/location"
)

// Object is one entry of a destination, as pruning sees it.
type Object struct {
	Name    string
	ModTime time.Time
	Size    int64
}

// Metadata travels with an uploaded snapshot so that an object can be
// identified without downloading it.
type Metadata struct {
	SHA256 string // sha256 of the whole file, as sha256sum prints it
	// PlainSHA256 is the sha256 of the snapshot inside a compressed or
	// encrypted file; empty for a plain one, where it is SHA256.
	PlainSHA256 string
	Revision    int64
	EtcdVersion string
	ToolVersion string
}

// Destination is one place a run stores the snapshot in, lists and prunes.
// A destination either streams (a local directory: Create, while the
// snapshot arrives) or uploads (object storage: Upload, once it is
// verified); the other of the two methods refuses.
type Destination interface {
	// String names the destination in logs and the summary; it never holds
	// credentials.
	String() string
	// Streams reports whether the snapshot goes in through Create while it
	// arrives, rather than through Upload once it is verified.
	Streams() bool
	// Create opens a temporary file beside the final name. Nothing appears
	// under the final name before Commit.
	Create(name string) (Pending, error)
	// Upload copies the verified file at path to name. Nothing appears under
	// the final name unless the whole upload succeeded.
	Upload(ctx context.Context, name, path string, meta Metadata) (Object, error)
	// List returns the direct entries whose names start with prefix.
	List(ctx context.Context, prefix string) ([]Object, error)
	// Delete removes one entry by name; for a name that is not there the
	// error is fs.ErrNotExist.
	Delete(ctx context.Context, name string) error
	// Stale lists the temporary files for snapshots named with prefix that
	// killed runs left behind: this package's own temporary names that no
	// live run holds locked (where the filesystem has no locks: unmodified
	// for an hour before now).
	Stale(ctx context.Context, prefix string, now time.Time) ([]Object, error)
	// Close releases what Open acquired.
	Close() error
}

// Pending is a snapshot being written under a temporary name.
type Pending interface {
	io.Writer
	// Path is the temporary file, readable for verification.
	Path() string
	// Final is the file's path once committed.
	Final() string
	// Reset empties the temporary file for another attempt.
	Reset() error
	// Sync writes the file to disk ahead of Commit, so that the disk can
	// work while the snapshot is verified.
	Sync() error
	// Commit fsyncs and moves the file to its final name without ever
	// replacing an existing one.
	Commit() error
	// Abort removes the temporary file; safe after Commit and twice.
	Abort()
}

// staleAfter is how long a temporary file must have gone unmodified before it
// counts as left behind by a run that was killed (SIGKILL, OOM, node crash),
// on a filesystem without locks; elsewhere the lock a live run holds tells.
// A live run writes to its temporary file continuously and commits it within
// minutes of the last write.
const staleAfter = time.Hour

// Open opens a configured destination: a local directory or a bucket.
func Open(ctx context.Context, spec string) (Destination, error) {
	s, err := location.Parse(spec)
	if s.Local() {
		return OpenLocal(s.Dir)
	}
	if err == nil {
		var b *Bucket
		if b, err = openParsed(ctx, spec, s); err == nil {
			return b, nil
		}
	}
	return nil, fmt.Errorf("opening bucket %s: %w", location.Redact(spec), err)
}
