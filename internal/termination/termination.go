// Package termination leaves a command's JSON summary where Kubernetes
// shows it after the container ends (`kubectl describe pod`).
package termination

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// MaxBytes is what the kubelet keeps of a termination message; it cuts what
// is longer, which would leave broken JSON, so callers shorten first.
const MaxBytes = 4096

// Write writes the summary b to path, the container's termination-message
// file. Outside a Kubernetes container the file does not exist and nothing
// is written; an empty path means none.
func Write(path string, b []byte) error {
	if path == "" {
		return nil
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return fmt.Errorf("writing termination message %s: %w", path, err)
	}
	return nil
}
