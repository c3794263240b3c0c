package destination

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"gocloud.dev/gcerrors"

	"github.com/etcd-backup/etcd-backup/internal/location"
	"github.com/etcd-backup/etcd-backup/internal/snapname"
)

// Reader is a destination that snapshots can be read back from: `list`,
// `fetch` and `restore` use it; a backup run never does.
type Reader interface {
	Destination
	// Attributes describes one entry, with the metadata stored with it
	// where the destination keeps any: object storage as object metadata,
	// a directory as the sums in a sidecar of a compressed or encrypted
	// file.
	Attributes(ctx context.Context, name string) (Attributes, error)
	// Read opens one entry for reading.
	Read(ctx context.Context, name string) (io.ReadCloser, error)
}

// Attributes is one entry and what is known about it without reading it.
type Attributes struct {
	Object
	Metadata
}

// ErrNotFound means the named entry does not exist.
var ErrNotFound = errors.New("no such snapshot")

var (
	_ Reader = (*Local)(nil)
	_ Reader = (*Bucket)(nil)
)

// OpenReader opens a configured destination for reading. Unlike Open it
// never creates a missing local directory: reading from a path that is not
// there is an error, not an empty listing.
func OpenReader(ctx context.Context, spec string) (Reader, error) {
	s, err := location.Parse(spec)
	if s.Local() {
		st, err := os.Stat(s.Dir)
		if err != nil {
			return nil, fmt.Errorf("opening directory %s: %w", s.Dir, err)
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("destination %s is not a directory", s.Dir)
		}
		return &Local{dir: s.Dir}, nil
	}
	if err == nil {
		var b *Bucket
		if b, err = openParsed(ctx, spec, s); err == nil {
			return b, nil
		}
	}
	return nil, fmt.Errorf("opening bucket %s: %w", location.Redact(spec), err)
}

// Attributes of a file in the directory; a directory keeps no metadata.
func (l *Local) Attributes(_ context.Context, name string) (Attributes, error) {
	path, err := l.entry(name)
	if err != nil {
		return Attributes{}, err
	}
	st, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Attributes{}, fmt.Errorf("%w: %s", ErrNotFound, path)
	}
	if err != nil {
		return Attributes{}, fmt.Errorf("reading %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return Attributes{}, fmt.Errorf("%s is not a regular file", path)
	}
	a := Attributes{Object: Object{Name: name, ModTime: st.ModTime(), Size: st.Size()}}
	a.SHA256, a.PlainSHA256 = sidecarSums(path)
	return a, nil
}

// sidecarSums reads the sums the backup run wrote beside a stored file
// (<name>.sha256, sha256sum's format: the stored file, then the plaintext
// under its .db name). Like object metadata they are a hint: a missing or
// unreadable sidecar gives none.
func sidecarSums(path string) (stored, plain string) {
	b, err := os.ReadFile(path + snapname.SidecarExt)
	if err != nil || len(b) > 4096 {
		return "", ""
	}
	name := filepath.Base(path)
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		sum, file, ok := strings.Cut(line, "  ")
		switch {
		case !ok || len(sum) != 64:
		case file == name:
			stored = sum
		case strings.HasPrefix(name, file+"."):
			plain = sum
		}
	}
	return stored, plain
}

// Read opens a regular file of the directory; symlinks are not followed.
func (l *Local) Read(_ context.Context, name string) (io.ReadCloser, error) {
	path, err := l.entry(name)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, path)
	}
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	return f, nil
}

// entry is the path of a plain name in the directory.
func (l *Local) entry(name string) (string, error) {
	if name != filepath.Base(name) || name == "." || name == ".." || name == "" {
		return "", fmt.Errorf("%q is not a plain file name in %s", name, l.dir)
	}
	return filepath.Join(l.dir, name), nil
}

// Attributes of an object, with the metadata Upload stored with it.
func (b *Bucket) Attributes(ctx context.Context, name string) (Attributes, error) {
	a, err := b.bucket.Attributes(ctx, name)
	if gcerrors.Code(err) == gcerrors.NotFound {
		return Attributes{}, fmt.Errorf("%w: %s in %s", ErrNotFound, name, b)
	}
	if err != nil {
		return Attributes{}, fmt.Errorf("reading the attributes of %s in %s: %w", name, b, b.explain(err))
	}
	md := Metadata{
		SHA256:      a.Metadata["sha256"],
		PlainSHA256: a.Metadata["plain-sha256"],
		EtcdVersion: a.Metadata["etcd-version"],
		ToolVersion: a.Metadata["tool-version"],
	}
	if r := a.Metadata["revision"]; r != "" {
		// A revision that does not parse is shown as unknown rather than
		// failing the listing: metadata is a hint, the file is the truth.
		md.Revision, _ = strconv.ParseInt(r, 10, 64)
	}
	return Attributes{Object: Object{Name: name, ModTime: a.ModTime, Size: a.Size}, Metadata: md}, nil
}

// Read opens an object for reading.
func (b *Bucket) Read(ctx context.Context, name string) (io.ReadCloser, error) {
	r, err := b.bucket.NewReader(ctx, name, nil)
	if gcerrors.Code(err) == gcerrors.NotFound {
		return nil, fmt.Errorf("%w: %s in %s", ErrNotFound, name, b)
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s from %s: %w", name, b, b.explain(err))
	}
	return r, nil
}
