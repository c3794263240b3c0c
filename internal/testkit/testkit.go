// Package testkit is what the tests of several packages share: the module
// root, free loopback ports, a clean environment, file digests, the build
// tags, and child processes that are stopped or killed as a whole. It is for
// tests and test tools only.
package testkit

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ModuleRoot is the directory of the go.mod above the working directory.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above %s", dir)
		}
		dir = parent
	}
}

// BuildTags are the Go build tags of the backup job, from build/go-tags in
// the module root, space-separated.
func BuildTags() (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	b, err := os.ReadFile(filepath.Join(root, "build", "go-tags"))
	if err != nil {
		return "", fmt.Errorf("reading the build tags: %w", err)
	}
	return strings.Join(strings.Fields(string(b)), " "), nil
}

// FreePorts finds n distinct free ports on 127.0.0.1. They are released
// before the caller binds them, so a server that cannot bind must be started
// again on new ones; use port 0 instead wherever the server allows it.
func FreePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// ClearEnv unsets every variable whose name starts with prefix for the rest
// of the test; t.Setenv restores them afterwards.
func ClearEnv(t testing.TB, prefix string) {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, prefix) {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
}

// SHA256File is the sha256 of a file, as sha256sum prints it.
func SHA256File(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
