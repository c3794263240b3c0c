//go:build linux

package cgrouptest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/etcd-backup/etcd-backup/internal/cgrouptest"
	"github.com/etcd-backup/etcd-backup/internal/etcdtest"
	"github.com/etcd-backup/etcd-backup/internal/testkit"
)

// TestDrillUnderMemoryLimit runs the restore drill inside a real memory
// cgroup whose limit is below the database's size: the throwaway etcd maps
// the whole restored database, and must get by on the pages the kernel
// reclaims, without an OOM kill.
func TestDrillUnderMemoryLimit(t *testing.T) {
	const (
		limit     = 256 << 20
		keys      = 48 << 10 // 8 KiB each: a database of about 450 MB
		valueSize = 8 << 10
	)
	requireCgroups(t)
	dir := t.TempDir()
	job, restore := buildBoth(t, dir)
	host := filepath.Join(dir, "host")
	takeBackup(t, dir, job, host, keys, valueSize)

	g, err := cgrouptest.New("etcd-backup-drill-test", limit)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := g.Remove(); err != nil {
			t.Error(err)
		}
	}()
	work := filepath.Join(dir, "work")
	if err := os.Mkdir(work, 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := g.Command(restore, "drill", "--from", host, "--kubernetes=false")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "ETCD_BACKUP_WORK_DIR=" + work, "ETCD_BACKUP_LOG_LEVEL=warn"}
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
		t.Errorf("the OOM killer ended %d processes of the drill", use.OOMKills)
	}
	if runErr != nil {
		t.Fatalf("drill under a %d MiB limit: %v\n%s\n%s", limit>>20, runErr, stdout.String(), stderr.String())
	}
	if use.PeakTotal > limit+limit/16 || use.PeakAnon == 0 {
		t.Errorf("peak usage %d (anon %d) against the limit %d: the drill did not run inside the group", use.PeakTotal, use.PeakAnon, limit)
	}
	var sum struct {
		Status   string `json:"status"`
		Snapshot struct {
			Size      int64 `json:"size"`
			TotalKeys int64 `json:"total_keys"`
		} `json:"snapshot"`
		Checks struct {
			KeysRead int64 `json:"keys_read"`
		} `json:"checks"`
		Seconds map[string]float64 `json:"seconds"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &sum); err != nil {
		t.Fatalf("summary %q: %v", stdout.String(), err)
	}
	t.Logf("snapshot %d MiB, seconds %v", sum.Snapshot.Size>>20, sum.Seconds)
	if sum.Status != "ok" || sum.Checks.KeysRead != keys || sum.Snapshot.TotalKeys != keys {
		t.Fatalf("summary %s; want ok with %d keys read", stdout.String(), keys)
	}
	if sum.Snapshot.Size < limit+limit/2 {
		t.Fatalf("snapshot of %d bytes is not well above the %d-byte limit: the test proves nothing", sum.Snapshot.Size, limit)
	}
	if left, err := os.ReadDir(work); err != nil || len(left) != 0 {
		t.Errorf("left in the work directory: %v %v", left, err)
	}
}

// takeBackup fills a real etcd and has the backup job store one snapshot
// of it in host.
func takeBackup(t *testing.T, dir, job, host string, keys, valueSize int) {
	t.Helper()
	srv, err := etcdtest.Start(filepath.Join(dir, "etcd"), etcdtest.Options{QuotaBytes: 2 << 30})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := srv.Seed(ctx, "/registry/drill/", keys, valueSize); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(job)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "ETCD_BACKUP_DESTINATIONS=" + host, "ETCD_BACKUP_LOG_LEVEL=warn"}
	for k, v := range srv.Env() {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("backup: %v\n%s", err, out)
	}
}

// buildBoth builds backup-job and backup-restore side by side (the drill
// has backup-job fetch for it), unless BACKUP_JOB_BINARY names a backup-job
// with its backup-restore beside it (ci/test.sh builds both as its own user).
func buildBoth(t *testing.T, dir string) (job, restore string) {
	t.Helper()
	if bin := os.Getenv("BACKUP_JOB_BINARY"); bin != "" {
		return bin, filepath.Join(filepath.Dir(bin), "backup-restore")
	}
	tags, err := testkit.BuildTags()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"backup-job", "backup-restore"} {
		cmd := exec.Command("go", "build", "-trimpath", "-tags", tags, "-o", filepath.Join(dir, name), "github.com/etcd-backup/etcd-backup/cmd/"+name)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("building %s: %v\n%s", name, err, b)
		}
	}
	return filepath.Join(dir, "backup-job"), filepath.Join(dir, "backup-restore")
}
