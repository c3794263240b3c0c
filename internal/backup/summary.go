package backup

import (
	"encoding/json"
	"reflect"
	"unicode/utf8"

	"github.com/etcd-backup/etcd-backup/internal/location"
	"github.com/etcd-backup/etcd-backup/internal/snapshot"
	"github.com/etcd-backup/etcd-backup/internal/termination"
	"github.com/etcd-backup/etcd-backup/internal/verify"
)

// Steps of a run, as named in the summary.
const (
	StepConfig   = "config"
	StepSnapshot = "snapshot"
	StepVerify   = "verify"
	StepCopy     = "copy"
	StepBundle   = "bundle"
	StepPrune    = "prune"
)

// Destination results.
const (
	StatusOK      = "ok"
	StatusFailed  = "failed"
	StatusSkipped = "skipped"
)

// Summary is the one line a run prints at the end, and what it leaves in the
// termination message for `kubectl describe pod`.
type Summary struct {
	Status       string             `json:"status"`
	FailedStep   string             `json:"failed_step,omitempty"`
	Error        string             `json:"error,omitempty"`
	Snapshot     *SnapshotInfo      `json:"snapshot,omitempty"`
	Bundle       *BundleInfo        `json:"bundle,omitempty"`
	Etcd         *snapshot.Member   `json:"etcd,omitempty"`
	Destinations []DestResult       `json:"destinations"`
	Seconds      map[string]float64 `json:"seconds"`
	DryRun       bool               `json:"dry_run"`
	Version      string             `json:"version"`
	StartedAt    string             `json:"started_at"`
}

// SnapshotInfo describes the verified snapshot. Size and SHA256 are those
// of the stored file; for a compressed or encrypted one the Plain fields
// are those of the snapshot inside.
type SnapshotInfo struct {
	Name        string `json:"name"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
	PlainSize   int64  `json:"plain_size,omitempty"`
	PlainSHA256 string `json:"plain_sha256,omitempty"`
	// CompressionRatio is plain size over stored size, when compressed.
	CompressionRatio float64 `json:"compression_ratio,omitempty"`
	verify.Status
}

// BundleInfo describes the control-plane bundle stored next to the
// snapshot.
type BundleInfo struct {
	Name    string   `json:"name"`
	Files   int      `json:"files"`
	Bytes   int64    `json:"bytes"` // file contents, before compression
	Size    int64    `json:"size"`  // stored
	SHA256  string   `json:"sha256"`
	Missing []string `json:"missing,omitempty"` // optional paths not found
	Error   string   `json:"error,omitempty"`
}

// DestResult is what happened at one destination.
type DestResult struct {
	Destination string   `json:"destination"`
	Status      string   `json:"status"`
	FailedStep  string   `json:"failed_step,omitempty"`
	Error       string   `json:"error,omitempty"`
	Seconds     float64  `json:"seconds"`
	Pruned      []string `json:"pruned"`
	PrunedCount int      `json:"pruned_count"`
	// BundleError says why this run's bundle is not stored here.
	BundleError string `json:"bundle_error,omitempty"`
	// RemovedTemporaries are temporary files of runs that were killed.
	RemovedTemporaries []string `json:"removed_temporaries,omitempty"`
}

func (d *DestResult) fail(step string, err error) {
	if d.Status == StatusFailed {
		return // the first failure is the one that explains the rest
	}
	d.Status, d.FailedStep, d.Error = StatusFailed, step, err.Error()
}

const maxTerminationMessage = termination.MaxBytes

// maxTerminationError bounds each error text in a termination message
// that would otherwise be too long.
const maxTerminationError = 300

// writeTermination leaves the summary where Kubernetes shows it. When the
// line is too long, pruned names are dropped (their counts stay) and error
// texts shortened; if even that is too long, only the status and the first
// error are left. The kubelet cuts what is longer, which would leave broken
// JSON.
func writeTermination(path string, s Summary) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if len(b) > maxTerminationMessage {
		s.Error = shorten(s.Error)
		s.Destinations = append([]DestResult(nil), s.Destinations...)
		for i := range s.Destinations {
			s.Destinations[i].Pruned = nil
			s.Destinations[i].Error = shorten(s.Destinations[i].Error)
		}
		if b, err = json.Marshal(s); err != nil {
			return err
		}
	}
	if len(b) > maxTerminationMessage {
		b, err = json.Marshal(struct {
			Status     string `json:"status"`
			FailedStep string `json:"failed_step,omitempty"`
			Error      string `json:"error,omitempty"`
			Note       string `json:"note"`
		}{s.Status, s.FailedStep, s.Error, "shortened to fit the termination message; the summary on stdout is complete"})
		if err != nil {
			return err
		}
	}
	return termination.Write(path, b)
}

// shorten cuts an error text to maxTerminationError bytes, at a character
// boundary.
func shorten(msg string) string {
	if len(msg) <= maxTerminationError {
		return msg
	}
	cut := maxTerminationError
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut] + "..."
}

// redactStrings passes every string reachable from v through
// location.RedactText, so that no field of the summary, present or added
// later, shows a URL with what could be a credential.
func redactStrings(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			redactStrings(v.Elem())
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				redactStrings(v.Field(i))
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			redactStrings(v.Index(i))
		}
	case reflect.Map:
		// map values cannot be set in place; the summary's maps hold numbers
		if v.Type().Elem().Kind() == reflect.String {
			for _, k := range v.MapKeys() {
				shown := reflect.ValueOf(location.RedactText(v.MapIndex(k).String()))
				v.SetMapIndex(k, shown.Convert(v.Type().Elem()))
			}
		}
	case reflect.String:
		if v.CanSet() {
			v.SetString(location.RedactText(v.String()))
		}
	}
}
