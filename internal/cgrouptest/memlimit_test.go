//go:build linux

package cgrouptest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/etcd-backup/etcd-backup/internal/cgrouptest"
	"github.com/etcd-backup/etcd-backup/internal/etcdtest"
	"github.com/etcd-backup/etcd-backup/internal/testkit"
)

// TestBackupJobUnderMemoryLimit runs the backup job binary inside a real
// memory cgroup whose limit is a fraction of the snapshot: the stream, the
// two copies and the verification must all fit, by leaving file pages to
// the kernel to reclaim, without an OOM kill.
func TestBackupJobUnderMemoryLimit(t *testing.T) {
	const (
		limit     = 64 << 20
		keys      = 32 << 10 // 8 KiB each: a database of about 300 MB
		valueSize = 8 << 10
	)
	requireCgroups(t)
	dir := t.TempDir()
	bin := buildJob(t, dir)
	srv, err := etcdtest.Start(filepath.Join(dir, "etcd"), etcdtest.Options{QuotaBytes: 2 << 30})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := srv.Seed(ctx, "/registry/memlimit/", keys, valueSize); err != nil {
		t.Fatal(err)
	}

	g, err := cgrouptest.New("etcd-backup-test", limit)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := g.Remove(); err != nil {
			t.Error(err)
		}
	}()
	cmd := g.Command(bin)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"),
		"ETCD_BACKUP_DESTINATIONS=" + filepath.Join(dir, "host") + "," + filepath.Join(dir, "pvc"),
		"ETCD_BACKUP_LOG_LEVEL=warn"}
	for k, v := range srv.Env() {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done := g.Watch()
	runErr := cmd.Run()
	use, err := done()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("limit %d MiB: peak anon %.1f MiB, page cache %.1f MiB, total %.1f MiB, OOM kills %d",
		limit>>20, mib(use.PeakAnon), mib(use.PeakFile), mib(use.PeakTotal), use.OOMKills)
	if use.OOMKills != 0 {
		t.Errorf("the OOM killer ended %d processes of the run", use.OOMKills)
	}
	if runErr != nil {
		t.Fatalf("backup job under a %d MiB limit: %v\n%s", limit>>20, runErr, stderr.String())
	}
	// The kernel lets the charge pass the limit by a few pages at most.
	if use.PeakTotal > limit+limit/16 {
		t.Errorf("peak usage %d well above the limit %d: the limit did not hold", use.PeakTotal, limit)
	}
	if use.PeakFile == 0 || use.PeakAnon == 0 {
		t.Errorf("no memory charged to the group (anon %d, file %d): the process did not run inside it", use.PeakAnon, use.PeakFile)
	}
	var sum struct {
		Status   string `json:"status"`
		Snapshot struct {
			Size int64 `json:"size"`
		} `json:"snapshot"`
		Seconds map[string]float64 `json:"seconds"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &sum); err != nil {
		t.Fatalf("summary %q: %v", stdout.String(), err)
	}
	t.Logf("snapshot %d MiB, seconds %v", sum.Snapshot.Size>>20, sum.Seconds)
	if sum.Status != "ok" {
		t.Fatalf("status %q", sum.Status)
	}
	if sum.Snapshot.Size < 4*limit {
		t.Fatalf("snapshot of %d bytes is not several times the %d-byte limit: the test proves nothing", sum.Snapshot.Size, limit)
	}
	for _, d := range []string{"host", "pvc"} {
		entries, err := os.ReadDir(filepath.Join(dir, d))
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 1 || !strings.HasSuffix(entries[0].Name(), ".db") {
			t.Errorf("%s holds %v, want one snapshot", d, entries)
		}
	}
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// buildJob builds the backup job the way `make build` does, unless
// BACKUP_JOB_BINARY names one (ci/test.sh builds it as its own user and runs
// this test as root).
func buildJob(t *testing.T, dir string) string {
	t.Helper()
	if bin := os.Getenv("BACKUP_JOB_BINARY"); bin != "" {
		return bin
	}
	tags, err := testkit.BuildTags()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "backup-job")
	cmd := exec.Command("go", "build", "-trimpath", "-tags", tags, "-o", out, "github.com/etcd-backup/etcd-backup/cmd/backup-job")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the backup job: %v\n%s", err, b)
	}
	return out
}

// requireCgroups skips a test that needs root and a memory controller, and
// fails it under CI=true, where both must be there.
func requireCgroups(t *testing.T) {
	t.Helper()
	if _, _, err := cgrouptest.Version(); err != nil || os.Geteuid() != 0 {
		msg := fmt.Sprintf("needs root and a cgroup memory controller (uid %d, %v)", os.Geteuid(), err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}
