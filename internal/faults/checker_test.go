package faults_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/etcd-backup/etcd-backup/internal/backup"
	"github.com/etcd-backup/etcd-backup/internal/testkit"
)

// recorder is a testing.TB that keeps the errors instead of failing.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	msgs []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
}

func (r *recorder) Error(args ...any) { r.Errorf("%s", fmt.Sprint(args...)) }

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	panic(r)
}

func (r *recorder) Fatal(args ...any) { r.Fatalf("%s", fmt.Sprint(args...)) }

// check runs the invariant checker and returns what it reported.
func (r *recorder) check(sc *scenario, runs ...*jobResult) []string {
	func() {
		defer func() {
			if v := recover(); v != nil && v != r {
				panic(v)
			}
		}()
		checkInvariants(r, sc, runs...)
	}()
	return r.msgs
}

// checkerCatches breaks each invariant on purpose, with hand-made results
// and destinations, and requires the checker to report that invariant (a
// break may violate another one too: a lost snapshot is also missing from
// the summary's pruned list); the untouched control must pass. A checker that reports nothing would
// make every case above pass.
func checkerCatches(t *testing.T, s *suite) {
	// A failed run that touched nothing: the summary a fixed job gives.
	failedRun := func(sc *scenario) *jobResult {
		sum := backup.Summary{Status: backup.StatusFailed, FailedStep: backup.StepSnapshot, Error: "etcd unreachable",
			StartedAt: time.Now().UTC().Format(time.RFC3339)}
		for _, d := range sc.dests {
			sum.Destinations = append(sum.Destinations, backup.DestResult{Destination: d.shown(), Status: backup.StatusSkipped})
		}
		return &jobResult{Exit: 1, Summary: sum, Want: fails("snapshot")}
	}
	for _, tc := range []struct {
		name   string
		s3     bool
		break_ func(t *testing.T, sc *scenario, d *dest, r *jobResult)
		want   string // the invariant the checker must report; "" for none
	}{
		{"control", false, func(*testing.T, *scenario, *dest, *jobResult) {}, ""},
		{"a partial file", false, func(t *testing.T, sc *scenario, d *dest, r *jobResult) {
			sc.put(t, d, "."+snapshotName(time.Now())+".partial-0123456789ab", []byte("half"), time.Now())
		}, "invariant 2"},
		{"a partial file in the work directory", false, func(t *testing.T, sc *scenario, d *dest, r *jobResult) {
			if err := os.WriteFile(filepath.Join(sc.workDir, "."+snapshotName(time.Now())+".partial-0123456789ab"), nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}, "invariant 2"},
		{"a corrupt snapshot under a final name", false, func(t *testing.T, sc *scenario, d *dest, r *jobResult) {
			b := append([]byte(nil), s.fixture...)
			b[len(b)/2] ^= 0xff
			sc.put(t, d, snapshotName(time.Now().Add(-3*time.Hour)), b, time.Now())
		}, "invariant 1"},
		{"a snapshot lost", false, func(t *testing.T, sc *scenario, d *dest, r *jobResult) {
			for name := range sc.before[d] {
				if isFinalName(name) {
					if err := os.Remove(filepath.Join(d.dir, name)); err != nil {
						t.Fatal(err)
					}
					return
				}
			}
		}, "invariant 3"},
		{"a foreign file removed", false, func(t *testing.T, sc *scenario, d *dest, r *jobResult) {
			if err := os.Remove(filepath.Join(d.dir, "notes.txt")); err != nil {
				t.Fatal(err)
			}
		}, "invariant 3"},
		{"exit status and summary disagree", false, func(t *testing.T, sc *scenario, d *dest, r *jobResult) {
			r.Exit = 0
		}, "invariant 4"},
		{"a destination says ok without the snapshot", false, func(t *testing.T, sc *scenario, d *dest, r *jobResult) {
			r.Summary.Destinations[0].Status = backup.StatusOK
		}, "invariant 4"},
		{"a stored snapshot that lacks the source's keys", false, func(t *testing.T, sc *scenario, d *dest, r *jobResult) {
			// The run claims the small fixture (another etcd's snapshot)
			// as its own: it verifies, but restoring it shows other keys.
			sc.src = s.src
			name := snapshotName(time.Now())
			sc.put(t, d, name, s.fixture, time.Now())
			sum, err := testkit.SHA256File(filepath.Join(d.dir, name))
			if err != nil {
				t.Fatal(err)
			}
			r.Exit, r.Want = 0, succeeds()
			r.Summary.Status, r.Summary.FailedStep, r.Summary.Error = backup.StatusOK, "", ""
			r.Summary.Snapshot = &backup.SnapshotInfo{Name: name, Size: int64(len(s.fixture)), SHA256: sum}
			r.Summary.Destinations[0].Status = backup.StatusOK
			r.Summary.Destinations[0].Pruned = sc.prunable(d, r)
			r.Summary.Destinations[0].PrunedCount = len(r.Summary.Destinations[0].Pruned)
			for _, n := range r.Summary.Destinations[0].Pruned {
				if err := os.Remove(filepath.Join(d.dir, n)); err != nil {
					t.Fatal(err)
				}
			}
		}, "invariant 1"},
		{"a URL with a password in a log line", false, func(t *testing.T, sc *scenario, d *dest, r *jobResult) {
			r.Stderr += `{"level":"INFO","msg":"taking snapshot","endpoint":"https://root:hunter2@127.0.0.1:2379"}` + "\n"
		}, "invariant 5"},
		{"the etcd password in the summary", false, func(t *testing.T, sc *scenario, d *dest, r *jobResult) {
			sc.env["ETCD_BACKUP_USERNAME"], sc.env["ETCD_BACKUP_PASSWORD"] = "root", "hunter2-pass"
			r.Summary.Error = "authentication failed for root/hunter2-pass"
			r.Stdout = `{"status":"failed","error":"authentication failed for root/hunter2-pass"}` + "\n"
		}, "invariant 5"},
		{"one directory as two destinations", false, func(t *testing.T, sc *scenario, d *dest, r *jobResult) {
			r.Summary.Destinations = append(r.Summary.Destinations, backup.DestResult{Destination: "file://" + d.dir + "/", Status: backup.StatusSkipped})
		}, "invariant 6"},
		{"a directory and a symlink to it", false, func(t *testing.T, sc *scenario, d *dest, r *jobResult) {
			link := filepath.Join(t.TempDir(), "link")
			if err := os.Symlink(d.dir, link); err != nil {
				t.Fatal(err)
			}
			r.Summary.Destinations = append(r.Summary.Destinations, backup.DestResult{Destination: link, Status: backup.StatusSkipped})
		}, "invariant 6"},
		{"control, encrypted", false, func(t *testing.T, sc *scenario, d *dest, r *jobResult) {
			sc.encrypt(t, true)
		}, ""},
		{"plaintext on a destination when encryption is on", false, func(t *testing.T, sc *scenario, d *dest, r *jobResult) {
			sc.encrypt(t, true)
			sc.put(t, d, snapshotName(time.Now())+".sha256", s.fixture, time.Now())
		}, "invariant 7"},
		{"plaintext left in the work directory when encryption is on", false, func(t *testing.T, sc *scenario, d *dest, r *jobResult) {
			sc.encrypt(t, true)
			if err := os.WriteFile(filepath.Join(sc.workDir, "copy"), s.fixture, 0o600); err != nil {
				t.Fatal(err)
			}
		}, "invariant 7"},
		{"an unfinished multipart upload", true, func(t *testing.T, sc *scenario, d *dest, r *jobResult) {
			if _, err := d.s3.Client().CreateMultipartUpload(context.Background(), &s3.CreateMultipartUploadInput{
				Bucket: aws.String(d.s3.Bucket), Key: aws.String(d.prefix + snapshotName(time.Now())),
			}); err != nil {
				t.Fatal(err)
			}
		}, "invariant 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc := newScenario(t, s, nil)
			var d *dest
			if tc.s3 {
				s.needS3(t)
				d = sc.addBucket(t, "s3", "")
			} else {
				d = sc.addDir(t, "host")
				sc.put(t, d, "notes.txt", []byte("not ours"), time.Now())
			}
			sc.seedDefault(t, d)
			sc.record(t)
			r := failedRun(sc)
			tc.break_(t, sc, d, r)
			rec := &recorder{TB: t}
			msgs := rec.check(sc, r)
			found := false
			for _, m := range msgs {
				found = found || (tc.want != "" && strings.HasPrefix(m, tc.want+":"))
			}
			switch {
			case tc.want == "" && len(msgs) > 0:
				t.Errorf("the checker reported violations of an untouched scenario:\n%s", strings.Join(msgs, "\n"))
			case tc.want != "" && !found:
				t.Errorf("the checker missed it: want %s, got %q", tc.want, msgs)
			}
		})
	}
}
