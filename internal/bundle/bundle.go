// Package bundle archives the control-plane files a kubeadm node needs
// besides etcd's data to come back after the node is lost: the PKI (cluster
// and etcd CA keys), the static pod manifests, admin.conf and kubeadm's
// configuration. The archive is a plain tar with each file under its
// absolute path (leading "/" removed), with modes, owners and times, so that
// `tar -xpf bundle.tar -C /` on a rebuilt node puts everything back.
package bundle

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// KubeadmPaths are the chart's defaults: what kubeadm writes on a
// control-plane node. A trailing "?" marks a path that may be missing.
var KubeadmPaths = []string{
	"/etc/kubernetes/manifests",
	"/etc/kubernetes/pki",
	"/etc/kubernetes/admin.conf",
	"/etc/kubernetes/kubeadm-config.yaml?",
}

// MaxFileSize bounds one archived file: the control-plane files are small,
// and a path pointing at a large file by mistake (etcd's own data
// directory) must fail the configuration rather than fill the bucket.
const MaxFileSize = 16 << 20

// Path is one configured path.
type Path struct {
	Path     string
	Optional bool // missing is fine
}

// ParsePaths reads a comma-separated list of absolute paths, each
// optionally ending in "?" (may be missing). Empty means no bundle.
func ParsePaths(list string) ([]Path, error) {
	var out []Path
	seen := map[string]bool{}
	for item := range strings.SplitSeq(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		p := Path{}
		p.Path, p.Optional = strings.CutSuffix(item, "?")
		if !filepath.IsAbs(p.Path) || filepath.Clean(p.Path) == "/" {
			return nil, fmt.Errorf("%q is not an absolute path below /; accepted: absolute paths, comma-separated, each optionally ending in ? when it may be missing", item)
		}
		p.Path = filepath.Clean(p.Path)
		if seen[p.Path] {
			return nil, fmt.Errorf("%q is listed twice; accepted: each path once", p.Path)
		}
		seen[p.Path] = true
		out = append(out, p)
	}
	return out, nil
}

// Stats describe an archive.
type Stats struct {
	Files   int      `json:"files"`
	Bytes   int64    `json:"bytes"`             // file contents
	Missing []string `json:"missing,omitempty"` // optional paths not found
}

// Write archives paths to w. A directory is archived with everything below
// it; symbolic links below a directory are stored as links (never
// followed), while a configured path that is a link is followed, since a
// mount may present it that way. Special files are skipped. A required
// path that is missing fails the archive.
func Write(ctx context.Context, w io.Writer, paths []Path) (Stats, error) {
	tw := tar.NewWriter(w)
	var st Stats
	parents := map[string]bool{}
	for _, p := range paths {
		info, err := os.Stat(p.Path)
		if errors.Is(err, fs.ErrNotExist) && p.Optional {
			st.Missing = append(st.Missing, p.Path)
			continue
		}
		if err != nil {
			return st, fmt.Errorf("bundling %s: %w", p.Path, err)
		}
		if err := addParents(tw, p.Path, parents); err != nil {
			return st, err
		}
		if !info.IsDir() {
			if err := addEntry(tw, p.Path, p.Path, info, &st); err != nil {
				return st, err
			}
			continue
		}
		// A configured directory may be a link (a mount presents it so):
		// walk what it points to, store it under the configured name.
		real, err := filepath.EvalSymlinks(p.Path)
		if err != nil {
			return st, fmt.Errorf("bundling %s: %w", p.Path, err)
		}
		err = filepath.WalkDir(real, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			name := p.Path + strings.TrimPrefix(path, real)
			fi := info
			if path != real {
				if fi, err = d.Info(); err != nil {
					return err
				}
			}
			return addEntry(tw, name, path, fi, &st)
		})
		if err != nil {
			return st, fmt.Errorf("bundling %s: %w", p.Path, err)
		}
	}
	if err := tw.Close(); err != nil {
		return st, fmt.Errorf("finishing the bundle: %w", err)
	}
	return st, nil
}

// addParents records the directories above path, so that extraction
// recreates them with their modes (/etc/kubernetes is 0755, pki 0700 on
// some systems).
func addParents(tw *tar.Writer, path string, done map[string]bool) error {
	var parents []string
	for d := filepath.Dir(path); d != "/" && !done[d]; d = filepath.Dir(d) {
		parents = append(parents, d)
	}
	sort.Strings(parents) // outermost first
	for _, d := range parents {
		info, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("bundling %s: %w", d, err)
		}
		var none Stats
		if err := addEntry(tw, d, d, info, &none); err != nil {
			return err
		}
		done[d] = true
	}
	return nil
}

// addEntry stores the file at path under name.
func addEntry(tw *tar.Writer, name, path string, info fs.FileInfo, st *Stats) error {
	mode := info.Mode()
	if !mode.IsRegular() && !mode.IsDir() && mode&fs.ModeSymlink == 0 {
		return nil // sockets, devices, pipes: not configuration
	}
	link := ""
	if mode&fs.ModeSymlink != 0 {
		l, err := os.Readlink(path)
		if err != nil {
			return fmt.Errorf("bundling %s: %w", path, err)
		}
		link = l
	}
	var data []byte
	if mode.IsRegular() {
		if info.Size() > MaxFileSize {
			return fmt.Errorf("bundling %s: %d bytes, more than the %d a control-plane file has; accepted: configuration files and directories only", path, info.Size(), MaxFileSize)
		}
		// Read whole, then write the header with the size read: a file
		// rewritten meanwhile (certificate rotation) cannot make the
		// header and the content disagree.
		b, err := readLimited(path)
		if err != nil {
			return fmt.Errorf("bundling %s: %w", path, err)
		}
		data = b
	}
	h, err := tar.FileInfoHeader(info, link)
	if err != nil {
		return fmt.Errorf("bundling %s: %w", path, err)
	}
	h.Name = strings.TrimPrefix(name, "/")
	if mode.IsDir() {
		h.Name += "/"
	}
	h.Size = int64(len(data))
	h.Format = tar.FormatPAX
	h.Uname, h.Gname = "", ""
	h.ModTime = info.ModTime().Truncate(time.Second)
	h.AccessTime, h.ChangeTime = time.Time{}, time.Time{}
	if sys, ok := info.Sys().(*syscall.Stat_t); ok {
		h.Uid, h.Gid = int(sys.Uid), int(sys.Gid)
	}
	if err := tw.WriteHeader(h); err != nil {
		return fmt.Errorf("bundling %s: %w", path, err)
	}
	if _, err := tw.Write(data); err != nil {
		return fmt.Errorf("bundling %s: %w", path, err)
	}
	if mode.IsRegular() {
		st.Files++
		st.Bytes += int64(len(data))
	}
	return nil
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxFileSize {
		return nil, fmt.Errorf("grew past %d bytes while read", MaxFileSize)
	}
	return b, nil
}
