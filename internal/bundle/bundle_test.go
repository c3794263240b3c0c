package bundle

import (
	"archive/tar"
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

type node struct {
	rel  string
	mode fs.FileMode // fs.ModeDir for directories, fs.ModeSymlink for links
	data string      // content, or link target
	uid  int
}

// kubeadmTree is a control-plane node's /etc/kubernetes in miniature.
var kubeadmTree = []node{
	{"etc/kubernetes", fs.ModeDir | 0o755, "", 0},
	{"etc/kubernetes/manifests", fs.ModeDir | 0o700, "", 0},
	{"etc/kubernetes/manifests/etcd.yaml", 0o600, "apiVersion: v1\nkind: Pod\n", 0},
	{"etc/kubernetes/manifests/kube-apiserver.yaml", 0o600, "kind: Pod\nmetadata: {name: kube-apiserver}\n", 0},
	{"etc/kubernetes/pki", fs.ModeDir | 0o755, "", 0},
	{"etc/kubernetes/pki/ca.crt", 0o644, "-----BEGIN CERTIFICATE-----\n", 0},
	{"etc/kubernetes/pki/ca.key", 0o600, "-----BEGIN RSA PRIVATE KEY-----\n", 0},
	{"etc/kubernetes/pki/etcd", fs.ModeDir | 0o700, "", 0},
	{"etc/kubernetes/pki/etcd/ca.key", 0o600, "etcd ca key", 0},
	{"etc/kubernetes/pki/etcd/peer.crt", 0o640, "peer cert", 1234},
	{"etc/kubernetes/pki/current.pem", fs.ModeSymlink, "ca.crt", 0},
	{"etc/kubernetes/admin.conf", 0o600, "apiVersion: v1\nkind: Config\n", 0},
	{"etc/kubernetes/other.conf", 0o600, "not listed, not bundled", 0},
}

func makeTree(t *testing.T, base string, nodes []node) {
	t.Helper()
	mtime := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, n := range nodes {
		p := filepath.Join(base, n.rel)
		var err error
		switch {
		case n.mode&fs.ModeDir != 0:
			err = os.MkdirAll(p, 0o700)
		case n.mode&fs.ModeSymlink != 0:
			err = os.Symlink(n.data, p)
		default:
			err = os.WriteFile(p, []byte(n.data), 0o600)
		}
		if err != nil {
			t.Fatal(err)
		}
		if n.mode&fs.ModeSymlink != 0 {
			continue
		}
		if err := os.Chmod(p, n.mode.Perm()); err != nil {
			t.Fatal(err)
		}
		if n.uid != 0 {
			if err := os.Chown(p, n.uid, n.uid); err != nil {
				t.Fatal(err)
			}
		}
		if n.mode&fs.ModeDir == 0 {
			if err := os.Chtimes(p, mtime, mtime); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestRoundTripKeepsModesContentsAndLinks(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root to set owners — CI=true requires it")
		}
		t.Skip("needs root: sets file owners")
	}
	src := t.TempDir()
	makeTree(t, src, kubeadmTree)
	if err := syscall.Mkfifo(filepath.Join(src, "etc/kubernetes/pki/fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	k := filepath.Join(src, "etc/kubernetes")
	paths, err := ParsePaths(k + "/manifests," + k + "/pki , " + k + "/admin.conf," + k + "/kubeadm-config.yaml?")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	st, err := Write(context.Background(), &buf, paths)
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != 7 || len(st.Missing) != 1 || st.Missing[0] != k+"/kubeadm-config.yaml" {
		t.Fatalf("stats %+v: want 7 files and the optional kubeadm-config.yaml missing", st)
	}

	dst := t.TempDir()
	xst, err := Extract(bytes.NewReader(buf.Bytes()), dst)
	if err != nil {
		t.Fatal(err)
	}
	if xst.Files != st.Files || xst.Bytes != st.Bytes {
		t.Fatalf("extracted %+v, archived %+v", xst, st)
	}
	for _, n := range kubeadmTree {
		rel := strings.TrimPrefix(src, "/") + "/" + n.rel
		got := filepath.Join(dst, rel)
		if n.rel == "etc/kubernetes/other.conf" {
			if _, err := os.Lstat(got); err == nil {
				t.Errorf("%s was not listed but was bundled", n.rel)
			}
			continue
		}
		fi, err := os.Lstat(got)
		if err != nil {
			t.Errorf("%s: %v", n.rel, err)
			continue
		}
		switch {
		case n.mode&fs.ModeSymlink != 0:
			target, err := os.Readlink(got)
			if err != nil || target != n.data {
				t.Errorf("%s: link to %q (%v), want %q", n.rel, target, err, n.data)
			}
		default:
			if fi.Mode() != n.mode {
				t.Errorf("%s: mode %v, want %v", n.rel, fi.Mode(), n.mode)
			}
			if n.mode.IsRegular() {
				b, err := os.ReadFile(got)
				if err != nil || string(b) != n.data {
					t.Errorf("%s: content %q (%v), want %q", n.rel, b, err, n.data)
				}
				want := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
				if !fi.ModTime().Equal(want) {
					t.Errorf("%s: mtime %v, want %v", n.rel, fi.ModTime(), want)
				}
			}
			if uid := int(fi.Sys().(*syscall.Stat_t).Uid); uid != n.uid {
				t.Errorf("%s: owner %d, want %d", n.rel, uid, n.uid)
			}
		}
	}
	if _, err := os.Lstat(filepath.Join(dst, strings.TrimPrefix(src, "/"), "etc/kubernetes/pki/fifo")); err == nil {
		t.Error("a named pipe was bundled")
	}
	// Extracting again over the same files replaces nothing.
	if _, err := Extract(bytes.NewReader(buf.Bytes()), dst); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("second extraction over the same files: %v; want a refusal", err)
	}
}

func TestConfiguredLinkIsFollowed(t *testing.T) {
	src := t.TempDir()
	makeTree(t, src, []node{
		{"real", fs.ModeDir | 0o700, "", 0},
		{"real/ca.key", 0o600, "key", 0},
		{"mounted", fs.ModeSymlink, "real", 0},
	})
	var buf bytes.Buffer
	if _, err := Write(context.Background(), &buf, []Path{{Path: filepath.Join(src, "mounted")}}); err != nil {
		t.Fatal(err)
	}
	dst := t.TempDir()
	if _, err := Extract(&buf, dst); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dst, strings.TrimPrefix(src, "/"), "mounted/ca.key"))
	if err != nil || string(b) != "key" {
		t.Fatalf("file below a configured link: %q, %v", b, err)
	}
}

func TestWriteRefusals(t *testing.T) {
	src := t.TempDir()
	big := filepath.Join(src, "member.db")
	if err := os.WriteFile(big, make([]byte, MaxFileSize+1), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		paths []Path
		want  string
	}{
		{"required path missing", []Path{{Path: filepath.Join(src, "pki")}}, "no such file"},
		{"file too large", []Path{{Path: big}}, "accepted: configuration files"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			_, err := Write(context.Background(), &buf, tc.paths)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestParsePaths(t *testing.T) {
	got, err := ParsePaths(strings.Join(KubeadmPaths, ","))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || !got[3].Optional || got[0].Optional || got[3].Path != "/etc/kubernetes/kubeadm-config.yaml" {
		t.Fatalf("kubeadm defaults parsed as %+v", got)
	}
	if none, err := ParsePaths(" , "); err != nil || none != nil {
		t.Fatalf("empty list: %v, %v", none, err)
	}
	for _, bad := range []string{"etc/kubernetes", "/", "/etc/kubernetes,/etc/kubernetes/", "/a,./b"} {
		if _, err := ParsePaths(bad); err == nil || !strings.Contains(err.Error(), "accepted:") {
			t.Errorf("ParsePaths(%q) = %v; want a refusal saying what is accepted", bad, err)
		}
	}
}

func TestExtractStaysInside(t *testing.T) {
	outside := t.TempDir()
	for _, tc := range []struct {
		name    string
		entries []tar.Header
	}{
		{"dot-dot", []tar.Header{{Name: "../escape", Typeflag: tar.TypeReg, Mode: 0o600}}},
		{"absolute", []tar.Header{{Name: outside + "/escape", Typeflag: tar.TypeReg, Mode: 0o600}}},
		{"through a link", []tar.Header{
			{Name: "link", Typeflag: tar.TypeSymlink, Linkname: outside},
			{Name: "link/escape", Typeflag: tar.TypeReg, Mode: 0o600},
		}},
		{"device", []tar.Header{{Name: "dev", Typeflag: tar.TypeChar, Mode: 0o600}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			for _, h := range tc.entries {
				if err := tw.WriteHeader(&h); err != nil {
					t.Fatal(err)
				}
			}
			if err := tw.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := Extract(&buf, t.TempDir()); err == nil {
				t.Fatal("a hostile entry was extracted")
			}
			if _, err := os.Lstat(filepath.Join(outside, "escape")); err == nil {
				t.Fatal("a file was written outside the target directory")
			}
		})
	}
}
