// Package destination stores finished snapshots and lists and deletes them
// again for pruning. A destination is either a local directory (a hostPath or
// a mounted PVC), which receives the snapshot while it streams in, or a
// gocloud.dev/blob bucket, which receives the verified file afterwards.
package destination

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"
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
	SHA256      string // sha256 of the whole file, as sha256sum prints it
	Revision    int64
	EtcdVersion string
	ToolVersion string
}

// Destination is what pruning and the summary need from every kind.
type Destination interface {
	// String names the destination in logs and the summary; it never holds
	// credentials.
	String() string
	// List returns the direct entries whose names start with prefix.
	List(ctx context.Context, prefix string) ([]Object, error)
	// Delete removes one entry by name.
	Delete(ctx context.Context, name string) error
	// Close releases what Open acquired.
	Close() error
}

// Streamer is a destination that takes the snapshot while it streams in
// (local directories). Nothing appears under the final name before Commit.
type Streamer interface {
	Destination
	// Create opens a temporary file beside the final name.
	Create(name string) (Pending, error)
}

// Pending is a snapshot being written under a temporary name.
type Pending interface {
	io.Writer
	// Path is the temporary file, readable for verification.
	Path() string
	// Reset empties the temporary file for another attempt.
	Reset() error
	// Commit fsyncs and moves the file to its final name without ever
	// replacing an existing one.
	Commit() error
	// Abort removes the temporary file; safe after Commit and twice.
	Abort()
}

// Uploader is a destination that takes a finished, verified file
// (object storage). Nothing appears under the final name unless the whole
// upload succeeded.
type Uploader interface {
	Destination
	Upload(ctx context.Context, name, path string, meta Metadata) (Object, error)
}

// IsLocal reports whether a configured destination is a local directory
// (an absolute path) rather than a blob URL.
func IsLocal(spec string) bool {
	return filepath.IsAbs(spec) && !strings.Contains(spec, "://")
}

// Open opens a configured destination: an absolute path is a local
// directory, anything else a blob URL.
func Open(ctx context.Context, spec string) (Destination, error) {
	if IsLocal(spec) {
		return OpenLocal(spec)
	}
	b, err := OpenBucket(ctx, spec)
	if err != nil {
		return nil, fmt.Errorf("opening bucket %s: %w", Redact(spec), err)
	}
	return b, nil
}
