// Package scratch holds plaintext snapshots that must not outlive the
// process: the copy a run verifies while only sealed bytes go to the
// destinations, and the copy `verify` checks of a sealed file. The file
// has no name (O_TMPFILE): it is gone when the process ends, however it
// ends (SIGKILL and OOM included), and no other process can find it in a
// directory listing.
package scratch

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// File is a scratch file.
type File struct {
	f     *os.File
	path  string // for other processes of this user (the database check)
	named bool   // the fallback: a named file, removed by Close
}

// Open creates a scratch file in dir, mode 0600. Where the filesystem
// cannot make unnamed files, it falls back to a hidden named one that
// Close removes (and only then can a SIGKILL leave it behind).
func Open(dir string) (*File, error) {
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err == nil {
		f := os.NewFile(uintptr(fd), filepath.Join(dir, "(unnamed scratch file)"))
		return &File{f: f, path: fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), fd)}, nil
	}
	if !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.EISDIR) && !errors.Is(err, unix.EINVAL) {
		return nil, fmt.Errorf("creating a scratch file in %s: %w", dir, err)
	}
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, fmt.Errorf("making a scratch name: %w", err)
	}
	path := filepath.Join(dir, ".etcd-backup-scratch-"+hex.EncodeToString(rnd[:]))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("creating a scratch file in %s: %w", dir, err)
	}
	return &File{f: f, path: path, named: true}, nil
}

// Write appends to the file.
func (s *File) Write(p []byte) (int, error) {
	n, err := s.f.Write(p)
	if err != nil {
		return n, fmt.Errorf("writing the scratch file in %s: %w", filepath.Dir(s.f.Name()), err)
	}
	return n, nil
}

// Path opens the file again, in this process or another of the same user,
// while it is open here.
func (s *File) Path() string { return s.path }

// Reset empties the file for another attempt.
func (s *File) Reset() error {
	if err := s.f.Truncate(0); err != nil {
		return fmt.Errorf("emptying the scratch file: %w", err)
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("emptying the scratch file: %w", err)
	}
	return nil
}

// Close releases the file, and with it its content; safe twice.
func (s *File) Close() {
	if s.f == nil {
		return
	}
	_ = s.f.Close()
	if s.named {
		_ = os.Remove(s.path)
	}
	s.f = nil
}
