package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/etcd-backup/etcd-backup/internal/blobtest"
	"github.com/etcd-backup/etcd-backup/internal/drill"
	"github.com/etcd-backup/etcd-backup/internal/etcdtest"
	"github.com/etcd-backup/etcd-backup/internal/metrics"
	"github.com/etcd-backup/etcd-backup/internal/pushgatewaytest"
)

// drillFixture is a real etcd backed up by the real backup-job into a
// directory and an S3 bucket, plus destinations holding broken copies.
type drillFixture struct {
	job, restore string
	env          []string // the backup's configuration, with the Pushgateway
	dir, bucket  string
	plain        string // a directory with a snapshot taken before kube-system existed
	s3           *blobtest.S3
	pushgateway  *pushgatewaytest.Server
	snapshot     []byte // the newest snapshot's bytes
	name         string
	liveKeys     int
}

func newDrillFixture(t *testing.T) *drillFixture {
	t.Helper()
	f := &drillFixture{s3: blobtest.StartS3(t), pushgateway: pushgatewaytest.Start(t)}
	f.job, f.restore = binaries(t)
	srv, err := etcdtest.Start(t.TempDir(), etcdtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	ctx := context.Background()
	if err := srv.Seed(ctx, "/registry/secrets/", 200, 500); err != nil {
		t.Fatal(err)
	}
	var etcdEnv []string
	for k, v := range srv.Env() {
		etcdEnv = append(etcdEnv, k+"="+v)
	}
	f.plain = filepath.Join(t.TempDir(), "plain")
	runCLI(t, append(etcdEnv, "ETCD_BACKUP_DESTINATIONS="+f.plain), f.job).want(t, 0, `"status":"ok"`, "")

	// History the drill must see through: an overwritten key, a deleted
	// one, and the namespace every Kubernetes cluster has.
	c, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, op := range []clientv3.Op{
		clientv3.OpPut("/registry/namespaces/kube-system", "ns"),
		clientv3.OpPut("/registry/secrets/00000001", "changed"),
		clientv3.OpDelete("/registry/secrets/00000002"),
	} {
		if _, err := c.Do(ctx, op); err != nil {
			t.Fatal(err)
		}
	}
	f.liveKeys = 200
	f.dir, f.bucket = filepath.Join(t.TempDir(), "host"), f.s3.URL("etcd")
	f.env = append(f.s3.Env(), "ETCD_BACKUP_DESTINATIONS="+f.dir+","+f.bucket, "ETCD_BACKUP_PUSHGATEWAY_URL="+f.pushgateway.URL,
		"ETCD_BACKUP_METRICS_INSTANCE=drill-test")
	runCLI(t, append(etcdEnv, f.env...), f.job).want(t, 0, `"status":"ok"`, "")
	names, err := filepath.Glob(filepath.Join(f.dir, "etcd-snapshot-*.db"))
	if err != nil || len(names) != 1 {
		t.Fatalf("snapshots in %s: %v %v", f.dir, names, err)
	}
	f.name = filepath.Base(names[0])
	if f.snapshot, err = os.ReadFile(names[0]); err != nil {
		t.Fatal(err)
	}
	return f
}

// runDrill runs `backup-job drill` (which hands over to backup-restore)
// with a scratch work directory, and returns the summary and that
// directory.
func (f *drillFixture) runDrill(t *testing.T, args ...string) (result, drill.Summary, string) {
	t.Helper()
	work := t.TempDir()
	r := runCLI(t, append(f.env, "ETCD_BACKUP_WORK_DIR="+work), f.job, append([]string{"drill"}, args...)...)
	var sum drill.Summary
	if err := json.Unmarshal([]byte(r.stdout), &sum); err != nil {
		t.Fatalf("the drill's stdout is not one JSON summary (%v):\n%s\nstderr:\n%s", err, r.stdout, r.stderr)
	}
	return r, sum, work
}

func TestDrill(t *testing.T) {
	f := newDrillFixture(t)
	st, err := os.Stat(filepath.Join(f.dir, f.name))
	if err != nil {
		t.Fatal(err)
	}

	// Broken copies, each in a destination of its own.
	wrongSHA := f.s3.URL("wrong-sha")
	putObject(t, f.s3, "wrong-sha/"+f.name, f.snapshot, map[string]string{"sha256": strings.Repeat("0", 64)})
	badBolt := brokenDir(t, f.name, corruptPages(f.snapshot))
	truncated := brokenDir(t, f.name, f.snapshot[:len(f.snapshot)/2])

	cases := []struct {
		name     string
		args     []string
		code     int
		step     string
		err      string
		from     string
		checked  string
		snapshot bool
	}{
		{name: "newest in the last destination (the bucket)", from: "s3://etcd-backup-test/etcd", checked: "found", snapshot: true},
		{name: "from a directory", args: []string{"--from", f.dir}, from: f.dir, checked: "found", snapshot: true},
		{name: "not a Kubernetes snapshot", args: []string{"--from", f.plain}, code: 1, step: drill.StepCheck,
			err: "/registry/namespaces/kube-system is not in the snapshot", from: f.plain, checked: "missing"},
		{name: "not a Kubernetes snapshot, check off", args: []string{"--from", f.plain, "--kubernetes=false"}, from: f.plain, checked: "not checked"},
		{name: "sha256 metadata mismatch", args: []string{"--from", wrongSHA}, code: 1, step: drill.StepFetch,
			err: "does not match the stored snapshot", from: "s3://etcd-backup-test/wrong-sha"},
		{name: "fails the bbolt check", args: []string{"--from", badBolt}, code: 1, step: drill.StepFetch, err: "bbolt", from: badBolt},
		{name: "truncated", args: []string{"--from", truncated}, code: 1, step: drill.StepFetch, err: "trailer", from: truncated},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := time.Now()
			r, sum, work := f.runDrill(t, c.args...)
			if r.code != c.code {
				t.Fatalf("exit %d, want %d\nstdout %s\nstderr %s", r.code, c.code, r.stdout, r.stderr)
			}
			if !strings.HasPrefix(sum.From, c.from) || sum.FailedStep != c.step || !strings.Contains(sum.Error, c.err) {
				t.Fatalf("summary from %q step %q error %q; want from %q step %q error containing %q", sum.From, sum.FailedStep, sum.Error, c.from, c.step, c.err)
			}
			assertEmpty(t, work)
			if c.checked != "" && (sum.Checks == nil || sum.Checks.KubeSystem != c.checked) {
				t.Fatalf("checks %+v, want kube_system_namespace %q", sum.Checks, c.checked)
			}
			if c.snapshot {
				want := drill.Checks{Revision: sum.Snapshot.Revision, KeysCounted: int64(f.liveKeys), KeysRead: int64(f.liveKeys), KubeSystem: "found"}
				got := *sum.Checks
				got.BytesRead = 0
				if sum.Status != drill.StatusOK || sum.Snapshot.Name != f.name || sum.Snapshot.Size != st.Size() || sum.Snapshot.TotalKeys != f.liveKeys || got != want {
					t.Fatalf("summary %+v checks %+v; want %s of %d bytes, %d live keys, checks %+v", sum, sum.Checks, f.name, st.Size(), f.liveKeys, want)
				}
				if sum.Checks.BytesRead < int64(f.liveKeys*500) {
					t.Errorf("read %d bytes, less than the values alone", sum.Checks.BytesRead)
				}
				for _, step := range []string{drill.StepFetch, drill.StepRestore, drill.StepStart, drill.StepCheck} {
					if _, ok := sum.Seconds[step]; !ok {
						t.Errorf("no duration for step %s: %v", step, sum.Seconds)
					}
				}
			}
			assertDrillMetrics(t, f.pushgateway, before, c.code == 0)
		})
	}
}

// assertDrillMetrics checks what the last drill pushed: its run time
// always, its success time only when it succeeded.
func assertDrillMetrics(t *testing.T, pg *pushgatewaytest.Server, before time.Time, ok bool) {
	t.Helper()
	mfs := pg.Scrape(t)
	value := func(name string) float64 {
		mf := mfs[name]
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "instance" && l.GetValue() == "drill-test" {
					return m.GetGauge().GetValue()
				}
			}
		}
		return 0
	}
	since := float64(before.UnixNano()) / 1e9
	lastRun, lastSuccess := value(metrics.DrillLastRun), value(metrics.DrillLastSuccess)
	if lastRun < since || value(metrics.DrillDuration) <= 0 {
		t.Fatalf("pushed last run %f duration %f; want a run after %f", lastRun, value(metrics.DrillDuration), since)
	}
	if ok != (lastSuccess == lastRun) || (!ok && lastSuccess >= since) {
		t.Fatalf("pushed last success %f, last run %f, drill ok %v", lastSuccess, lastRun, ok)
	}
}

func assertEmpty(t *testing.T, dir string) {
	t.Helper()
	left, err := os.ReadDir(dir)
	if err != nil || len(left) != 0 {
		t.Fatalf("left in the work directory %s: %v %v", dir, left, err)
	}
}

// brokenDir is a destination directory holding body under name.
func brokenDir(t *testing.T, name string, body []byte) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, name), body, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// corruptPages keeps bbolt's two meta pages and overwrites every other page
// with garbage, then writes a correct sha256 trailer: the copy is intact
// as a stream and broken as a database.
func corruptPages(snap []byte) []byte {
	const page = 4096
	db := bytes.Clone(snap[:len(snap)-sha256.Size])
	for i := 2 * page; i < len(db); i++ {
		db[i] = byte(i*7 + 1)
	}
	sum := sha256.Sum256(db)
	return append(db, sum[:]...)
}
