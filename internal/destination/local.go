package destination

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/etcd-backup/etcd-backup/internal/snapname"
)

// tempMarker is part of every temporary name, so that a temporary file can
// never be taken for a finished snapshot (it starts with a dot and does not
// end in the snapshot suffix).
const tempMarker = ".partial-"

// Local is a directory on a local filesystem: a hostPath or a mounted PVC.
type Local struct {
	dir string
}

// OpenLocal opens (and creates, 0700) a local directory destination.
func OpenLocal(dir string) (*Local, error) {
	dir = filepath.Clean(dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating directory %s: %w", dir, err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("checking directory %s: %w", dir, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("destination %s is not a directory", dir)
	}
	return &Local{dir: dir}, nil
}

func (l *Local) String() string { return l.dir }

// Streams is true: a directory takes the snapshot while it arrives.
func (l *Local) Streams() bool { return true }

// Upload refuses: a directory receives the snapshot through Create.
func (l *Local) Upload(context.Context, string, string, Metadata) (Object, error) {
	return Object{}, fmt.Errorf("%s receives snapshots while they stream in, not by upload", l.dir)
}

// Close has nothing to release for a directory.
func (l *Local) Close() error { return nil }

// List returns the regular files directly in the directory whose names start
// with prefix. Symlinks, directories and other special files are left out so
// that pruning can never follow or remove them.
func (l *Local) List(_ context.Context, prefix string) ([]Object, error) {
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", l.dir, err)
	}
	var out []Object
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), prefix) || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed since ReadDir, by a concurrent run
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", filepath.Join(l.dir, e.Name()), err)
		}
		out = append(out, Object{Name: e.Name(), ModTime: info.ModTime(), Size: info.Size()})
	}
	return out, nil
}

// Delete removes one file by name, refusing anything but a plain name.
func (l *Local) Delete(_ context.Context, name string) error {
	if name != filepath.Base(name) || name == "." || name == ".." {
		return fmt.Errorf("refusing to delete %q in %s: not a plain file name", name, l.dir)
	}
	if err := os.Remove(filepath.Join(l.dir, name)); err != nil {
		return fmt.Errorf("deleting %s: %w", filepath.Join(l.dir, name), err)
	}
	return nil
}

// tempRandom is how many random bytes make a temporary name unique.
const tempRandom = 6

// Create opens a temporary file beside the final name, mode 0600.
func (l *Local) Create(name string) (Pending, error) {
	var rnd [tempRandom]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, fmt.Errorf("making a temporary name: %w", err)
	}
	tmp := filepath.Join(l.dir, "."+name+tempMarker+hex.EncodeToString(rnd[:]))
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("creating temporary file in %s: %w", l.dir, err)
	}
	// The lock says "a live run writes this" until the file is closed,
	// which is after its rename; the kernel drops it when the process dies,
	// however it dies. It is a shared lock: the verification opens the file
	// with bbolt, read-only, which takes a shared lock of its own; another
	// run asks for an exclusive one (see unlocked). A filesystem without
	// locks leaves the age rule.
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB); err != nil && !locksUnsupported(err) {
		f.Close()
		os.Remove(tmp)
		return nil, fmt.Errorf("locking temporary file %s: %w", tmp, err)
	}
	return &localPending{f: f, dir: l.dir, tmp: tmp, final: filepath.Join(l.dir, name)}, nil
}

// Stale lists the temporary files that Create made for snapshot names with
// prefix and that no live run holds: a file whose lock can be taken belongs
// to a run that died. Where the filesystem has no locks, a file counts as
// left behind once unmodified for staleAfter. Only exact temporary names of
// this package qualify.
func (l *Local) Stale(ctx context.Context, prefix string, now time.Time) ([]Object, error) {
	objs, err := l.List(ctx, "."+prefix)
	if err != nil {
		return nil, err
	}
	var out []Object
	for _, o := range objs {
		if !isTemporary(prefix, o.Name) {
			continue
		}
		switch l.unlocked(o.Name) {
		case lockFree:
			out = append(out, o)
		case lockUnknown:
			if now.Sub(o.ModTime) > staleAfter {
				out = append(out, o)
			}
		}
	}
	return out, nil
}

type lockState int

const (
	lockHeld    lockState = iota // a live run writes the file
	lockFree                     // no run holds it: its writer died
	lockUnknown                  // no locks here, or the file could not be tried
)

// unlocked asks for an exclusive lock on a temporary file, which no lock of
// a live run allows, and lets it go at once.
func (l *Local) unlocked(name string) lockState {
	f, err := os.Open(filepath.Join(l.dir, name))
	if err != nil {
		return lockUnknown
	}
	defer f.Close()
	err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	switch {
	case err == nil:
		return lockFree
	case errors.Is(err, unix.EWOULDBLOCK):
		return lockHeld
	}
	return lockUnknown
}

// locksUnsupported reports a filesystem that has no flock (some network and
// FUSE filesystems).
func locksUnsupported(err error) bool {
	return errors.Is(err, unix.ENOLCK) || errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EINVAL)
}

// isTemporary reports whether name is "." + snapshot name + tempMarker +
// lowercase hex of tempRandom bytes, as Create makes it.
func isTemporary(prefix, name string) bool {
	rest, ok := strings.CutPrefix(name, ".")
	if !ok {
		return false
	}
	i := strings.LastIndex(rest, tempMarker)
	if i < 0 {
		return false
	}
	final, random := rest[:i], rest[i+len(tempMarker):]
	if len(random) != 2*tempRandom || strings.Trim(random, "0123456789abcdef") != "" {
		return false
	}
	if base, ok := snapname.SidecarOf(prefix, final); ok {
		final = base
	}
	return snapname.Matcher(prefix, snapname.Written...)(final)
}

type localPending struct {
	f     *os.File
	dir   string
	tmp   string
	final string
	done  bool
	// written counts bytes written; started is how many of them the
	// kernel was asked to start writing to disk, and clean how many are
	// known to be on the device.
	written, started, clean int64
	// keep leaves the written pages in the page cache (the file about to
	// be verified); the others' pages go as soon as they are on disk.
	keep bool
}

// writeBehind is how many written bytes make the kernel start writing them
// to disk, while the snapshot still streams in. The window before is then
// waited for and dropped from the page cache: the disk works alongside the
// network, the fsync in Commit finds little left to do, and the run never
// holds more than two windows of dirty pages per file. A large batch of
// dirty pages flushed at once would queue in front of etcd's WAL writes.
const writeBehind = 8 << 20

func (p *localPending) Write(b []byte) (int, error) {
	n, err := p.f.Write(b)
	p.written += int64(n)
	if err != nil {
		return n, fmt.Errorf("writing %s: %w", p.tmp, err)
	}
	if p.written-p.started >= writeBehind {
		if err := p.flushBehind(); err != nil {
			return n, err
		}
	}
	return n, nil
}

// flushBehind starts writeback of the newest window and waits for the one
// before it. An error of the waiting call is final: it consumes the
// file's write error, so a later fsync would no longer report it.
func (p *localPending) flushBehind() error {
	fd := int(p.f.Fd())
	// Starting writeback is only a hint; the wait below or the fsync
	// reports what fails.
	_ = unix.SyncFileRange(fd, p.started, p.written-p.started, unix.SYNC_FILE_RANGE_WRITE)
	if p.clean < p.started {
		err := unix.SyncFileRange(fd, p.clean, p.started-p.clean,
			unix.SYNC_FILE_RANGE_WAIT_BEFORE|unix.SYNC_FILE_RANGE_WRITE|unix.SYNC_FILE_RANGE_WAIT_AFTER)
		if err != nil {
			return fmt.Errorf("writing %s to disk: %w", p.tmp, err)
		}
		if !p.keep {
			_ = unix.Fadvise(fd, p.clean, p.started-p.clean, unix.FADV_DONTNEED)
		}
		p.clean = p.started
	}
	p.started = p.written
	return nil
}

// KeepCached leaves this file's pages in the page cache while it is
// written, for the verification that reads it next.
func (p *localPending) KeepCached() { p.keep = true }

func (p *localPending) Path() string { return p.tmp }

func (p *localPending) Final() string { return p.final }

func (p *localPending) Reset() error {
	if err := p.f.Truncate(0); err != nil {
		return fmt.Errorf("emptying %s for another attempt: %w", p.tmp, err)
	}
	if _, err := p.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("emptying %s for another attempt: %w", p.tmp, err)
	}
	p.written, p.started, p.clean = 0, 0, 0
	return nil
}

func (p *localPending) Sync() error {
	if err := p.f.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", p.tmp, err)
	}
	if !p.keep {
		_ = unix.Fadvise(int(p.f.Fd()), 0, 0, unix.FADV_DONTNEED)
	}
	return nil
}

// Commit makes the snapshot durable before it gets its final name: data
// fsync, no-replace rename, directory fsync. A crash at any point leaves
// either no final name or a complete file under it. The file is closed,
// and its lock released, only once it has left its temporary name, so that
// no other run can take it for a dead run's.
func (p *localPending) Commit() error {
	if p.done {
		return errors.New("snapshot already committed or aborted")
	}
	if err := p.f.Sync(); err != nil {
		p.Abort()
		return fmt.Errorf("syncing %s: %w", p.tmp, err)
	}
	// Durable now: its pages need not stay in the page cache, where they
	// would crowd out etcd's own (and count against the run's memory
	// limit). Only a hint.
	_ = unix.Fadvise(int(p.f.Fd()), 0, 0, unix.FADV_DONTNEED)
	if err := renameNoReplace(p.tmp, p.final); err != nil {
		p.Abort()
		return err
	}
	p.done = true
	if err := p.f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", p.final, err)
	}
	if err := syncDir(p.dir); err != nil {
		return fmt.Errorf("syncing directory %s after writing %s: %w", p.dir, filepath.Base(p.final), err)
	}
	return nil
}

// Abort removes the temporary file.
func (p *localPending) Abort() {
	if p.done {
		return
	}
	p.done = true
	// removed while still locked: no other run races to remove it too
	_ = os.Remove(p.tmp)
	_ = p.f.Close()
}

// renameNoReplace moves src to dst and fails if dst exists. renameat2 with
// RENAME_NOREPLACE is atomic; filesystems without it (some network and FUSE
// filesystems) get a hard link, which fails on an existing name too, and the
// last resort is a check before a plain rename.
func renameNoReplace(src, dst string) error {
	err := unix.Renameat2(unix.AT_FDCWD, src, unix.AT_FDCWD, dst, unix.RENAME_NOREPLACE)
	if err == nil {
		return nil
	}
	if errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("snapshot %s already exists; not overwriting it", dst)
	}
	if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOSYS) && !errors.Is(err, unix.ENOTSUP) {
		return fmt.Errorf("renaming %s to %s: %w", src, dst, err)
	}
	if err := os.Link(src, dst); err == nil {
		return os.Remove(src)
	} else if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("snapshot %s already exists; not overwriting it", dst)
	}
	if _, err := os.Lstat(dst); err == nil {
		return fmt.Errorf("snapshot %s already exists; not overwriting it", dst)
	}
	if err := os.Rename(src, dst); err != nil {
		return fmt.Errorf("renaming %s to %s: %w", src, dst, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
