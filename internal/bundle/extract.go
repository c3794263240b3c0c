package bundle

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Extract unpacks a bundle into dir (which must exist) with the archived
// modes and times, and owners when running as root. Nothing outside dir is
// ever written, whatever the archive holds, and no existing file is
// replaced: restoring over a live node's files is a decision for the
// operator (`tar -xpf ... -C /`), not for this tool.
func Extract(r io.Reader, dir string) (Stats, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return Stats{}, fmt.Errorf("opening %s to extract into: %w", dir, err)
	}
	defer root.Close()
	var st Stats
	type dirMeta struct {
		name  string
		mode  fs.FileMode
		mtime time.Time
		h     *tar.Header
	}
	var dirs []dirMeta
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return st, fmt.Errorf("reading the bundle: %w", err)
		}
		name := filepath.Clean(h.Name)
		if !filepath.IsLocal(name) {
			return st, fmt.Errorf("bundle entry %q is not a relative path inside the archive; refusing it", h.Name)
		}
		mode := fs.FileMode(h.Mode).Perm() | fs.FileMode(h.Mode)&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := root.MkdirAll(name, 0o700); err != nil {
				return st, fmt.Errorf("extracting %s: %w", name, err)
			}
			// modes last: a read-only directory must still take its files
			dirs = append(dirs, dirMeta{name: name, mode: mode, mtime: h.ModTime, h: h})
			continue
		case tar.TypeReg:
			if err := extractFile(root, name, mode, tr); err != nil {
				return st, err
			}
			st.Files++
			st.Bytes += h.Size
		case tar.TypeSymlink:
			if err := root.Symlink(h.Linkname, name); err != nil {
				return st, fmt.Errorf("extracting %s: %w", name, err)
			}
		default:
			return st, fmt.Errorf("bundle entry %s has type %q, which a bundle never holds; refusing it", name, h.Typeflag)
		}
		if err := setOwner(root, name, h); err != nil {
			return st, err
		}
		if h.Typeflag != tar.TypeSymlink {
			if err := root.Chtimes(name, h.ModTime, h.ModTime); err != nil {
				return st, fmt.Errorf("extracting %s: %w", name, err)
			}
		}
	}
	for i := len(dirs) - 1; i >= 0; i-- { // innermost first
		d := dirs[i]
		if err := setOwner(root, d.name, d.h); err != nil {
			return st, err
		}
		if err := root.Chmod(d.name, d.mode); err != nil {
			return st, fmt.Errorf("extracting %s: %w", d.name, err)
		}
		if err := root.Chtimes(d.name, d.mtime, d.mtime); err != nil {
			return st, fmt.Errorf("extracting %s: %w", d.name, err)
		}
	}
	return st, nil
}

func extractFile(root *os.Root, name string, mode fs.FileMode, r io.Reader) error {
	if err := root.MkdirAll(filepath.Dir(name), 0o700); err != nil {
		return fmt.Errorf("extracting %s: %w", name, err)
	}
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("extracting %s: %w", name, err)
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return fmt.Errorf("extracting %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("extracting %s: %w", name, err)
	}
	// after writing: the umask must not narrow the archived mode
	if err := root.Chmod(name, mode); err != nil {
		return fmt.Errorf("extracting %s: %w", name, err)
	}
	return nil
}

// setOwner restores owners only as root; anyone else cannot give files
// away and keeps them.
func setOwner(root *os.Root, name string, h *tar.Header) error {
	if os.Geteuid() != 0 {
		return nil
	}
	if err := root.Lchown(name, h.Uid, h.Gid); err != nil {
		return fmt.Errorf("extracting %s: %w", name, err)
	}
	return nil
}
