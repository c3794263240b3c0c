package drill

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/etcd-backup/etcd-backup/internal/termination"
	"github.com/etcd-backup/etcd-backup/internal/version"
)

// Outcomes.
const (
	StatusOK     = "ok"
	StatusFailed = "failed"
)

// Summary is the one line a drill prints at the end, and what it leaves in
// the termination message for `kubectl describe pod`.
type Summary struct {
	Status     string             `json:"status"`
	FailedStep string             `json:"failed_step,omitempty"`
	Error      string             `json:"error,omitempty"`
	From       string             `json:"from"`
	Snapshot   *SnapshotInfo      `json:"snapshot,omitempty"`
	Checks     *Checks            `json:"checks,omitempty"`
	Seconds    map[string]float64 `json:"seconds"`
	Version    string             `json:"version"`
	StartedAt  string             `json:"started_at"`
}

// SnapshotInfo is the drilled snapshot as fetched and verified.
type SnapshotInfo struct {
	Name      string `json:"name"`
	Size      int64  `json:"size"`
	SHA256    string `json:"sha256"`
	Revision  int64  `json:"revision"`
	TotalKeys int    `json:"total_keys"`
}

// Checks are what the throwaway etcd answered.
type Checks struct {
	// Revision is the revision etcd serves.
	Revision int64 `json:"revision"`
	// KeysCounted is the server's count of every key; KeysRead the keys a
	// paged range over all of them returned.
	KeysCounted int64 `json:"keys_counted"`
	KeysRead    int64 `json:"keys_read"`
	// BytesRead is the keys and values read.
	BytesRead int64 `json:"bytes_read"`
	// KubeSystem is "found", or "not checked" when the snapshot is not
	// required to be a Kubernetes cluster's.
	KubeSystem string `json:"kube_system_namespace"`
}

func newSummary(o Options, now time.Time) Summary {
	return Summary{Status: StatusOK, From: o.From, Seconds: map[string]float64{},
		Version: version.Version, StartedAt: now.UTC().Format(time.RFC3339)}
}

// step runs fn as the named step, timing it and naming it in the summary
// when it fails.
func (s *Summary) step(ctx context.Context, name string, now func() time.Time, fn func() error) error {
	t := now()
	err := ctx.Err()
	if err == nil {
		err = fn()
	} else {
		err = fmt.Errorf("interrupted: %w", err)
	}
	s.Seconds[name] = now().Sub(t).Seconds()
	if err != nil {
		s.FailedStep = name
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

func (s Summary) print(w io.Writer) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

const maxTerminationMessage = termination.MaxBytes

// writeTermination leaves the summary where Kubernetes shows it, with the
// error shortened when the whole would not fit.
func (s Summary) writeTermination(path string) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if over := len(b) - maxTerminationMessage; over > 0 {
		cut := max(0, len(s.Error)-over-len(" …"))
		s.Error = strings.ToValidUTF8(s.Error[:cut], "") + " …"
		if b, err = json.Marshal(s); err != nil {
			return err
		}
	}
	return termination.Write(path, b)
}
