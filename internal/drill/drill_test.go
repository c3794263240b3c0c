package drill

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/etcd-backup/etcd-backup/internal/etcdtest"
	"github.com/etcd-backup/etcd-backup/internal/verify"
)

func TestMain(m *testing.M) {
	verify.RunChild()
	os.Exit(m.Run())
}

// snapshotFile saves a snapshot of a real etcd holding the kube-system
// namespace and n more keys.
func snapshotFile(t *testing.T, n int) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	path := filepath.Join(t.TempDir(), "etcd-snapshot-20261130T120000Z.db")
	putKubeSystem := func(ctx context.Context, c *clientv3.Client) error {
		_, err := c.Put(ctx, kubeSystem, "ns")
		return err
	}
	if err := etcdtest.SeededSnapshot(ctx, t.TempDir(), path, "/registry/namespaces/kube-", n, 100, putKubeSystem); err != nil {
		t.Fatal(err)
	}
	return path
}

// copyFetch fetches by copying a local snapshot and verifying it.
func copyFetch(snap string) FetchFunc {
	return func(ctx context.Context, _, dir string) (Fetched, error) {
		b, err := os.ReadFile(snap)
		if err != nil {
			return Fetched{}, err
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return Fetched{}, err
		}
		path := filepath.Join(dir, filepath.Base(snap))
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return Fetched{}, err
		}
		st, sum, err := verify.File(ctx, path)
		return Fetched{Path: path, SHA256: sum, Size: int64(len(b)), Status: st}, err
	}
}

// cancelOn cancels when a log record with the message is written.
type cancelOn struct {
	slog.Handler
	msg    string
	cancel context.CancelFunc
}

func (h cancelOn) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.cancel()
	}
	return h.Handler.Handle(ctx, r)
}

func testOptions(work string) Options {
	return Options{From: "/backup", Snapshot: "latest", WorkDir: work, Kubernetes: true, PageSize: 7, StartTimeout: time.Minute}
}

// TestRun drills a real snapshot with a page size that does not divide the
// key count, and a drill cancelled (as by SIGTERM) at each step: the
// scratch directory is removed and the summary names the step.
func TestRun(t *testing.T) {
	snap := snapshotFile(t, 50)
	cases := []struct {
		name, cancelAt, step string
	}{
		{name: "complete"},
		{name: "cancelled once fetched", cancelAt: "fetched and verified", step: StepRestore},
		{name: "cancelled while etcd serves", cancelAt: "throwaway etcd started", step: StepCheck},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			work := t.TempDir()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var out bytes.Buffer
			log := slog.New(cancelOn{Handler: slog.NewTextHandler(io.Discard, nil), msg: c.cancelAt, cancel: cancel})
			if c.cancelAt == "" {
				log = slog.New(slog.NewTextHandler(io.Discard, nil))
			}
			core, logged := observer.New(zap.ErrorLevel)
			sum, err := Run(ctx, testOptions(work), Deps{Fetch: copyFetch(snap), Log: log, EtcdLog: zap.New(core), Stdout: &out})
			left, rerr := os.ReadDir(work)
			if rerr != nil || len(left) != 0 {
				t.Fatalf("left in the work directory: %v %v", left, rerr)
			}
			var printed Summary
			if jerr := json.Unmarshal(out.Bytes(), &printed); jerr != nil {
				t.Fatalf("printed summary: %v\n%s", jerr, out.String())
			}
			if c.step == "" {
				if err != nil || printed.Status != StatusOK || printed.Checks.KeysRead != 51 || printed.Checks.KeysCounted != 51 {
					t.Fatalf("drill: %v, summary %s", err, out.String())
				}
				// etcd reports its own shutdown as errors, which would read
				// as a failure after a drill that succeeded.
				for _, e := range logged.All() {
					t.Errorf("etcd logged %s %q %v", e.Level, e.Message, e.Context)
				}
				return
			}
			if err == nil || sum.FailedStep != c.step || printed.Status != StatusFailed || !strings.Contains(printed.Error, "context canceled") {
				t.Fatalf("cancelled drill: %v, summary %s; want a failure at %s", err, out.String(), c.step)
			}
		})
	}
}

// TestKeyCountMismatch: a drill whose snapshot figures disagree with what
// etcd serves must fail at the check, naming both counts.
func TestKeyCountMismatch(t *testing.T) {
	snap := snapshotFile(t, 5)
	fetch := func(ctx context.Context, name, dir string) (Fetched, error) {
		f, err := copyFetch(snap)(ctx, name, dir)
		f.Status.TotalKey++
		return f, err
	}
	var out bytes.Buffer
	_, err := Run(context.Background(), testOptions(t.TempDir()), Deps{Fetch: fetch, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), EtcdLog: zap.NewNop(), Stdout: &out})
	if err == nil || !strings.Contains(err.Error(), "etcd counts 6 keys and a full read returned 6, the snapshot holds 7") {
		t.Fatalf("drill: %v\n%s", err, out.String())
	}
}

func TestTerminationMessageFits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "termination-log")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s := newSummary(Options{From: "s3://b/p"}, time.Now())
	s.Status, s.Error = StatusFailed, strings.Repeat("é", 5000)
	if err := s.writeTermination(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got Summary
	if len(b) > maxTerminationMessage || json.Unmarshal(b, &got) != nil || got.Status != StatusFailed || !strings.HasSuffix(got.Error, "é …") {
		t.Fatalf("termination message of %d bytes: %.200s", len(b), b)
	}
}
