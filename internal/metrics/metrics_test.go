package metrics_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/etcd-backup/etcd-backup/internal/backup"
	"github.com/etcd-backup/etcd-backup/internal/blobtest"
	"github.com/etcd-backup/etcd-backup/internal/config"
	"github.com/etcd-backup/etcd-backup/internal/etcdtest"
	"github.com/etcd-backup/etcd-backup/internal/metrics"
	"github.com/etcd-backup/etcd-backup/internal/pushgatewaytest"
	"github.com/etcd-backup/etcd-backup/internal/verify"
)

var (
	srvOnce sync.Once
	srv     *etcdtest.Server
	srvErr  error
	srvDir  string
)

func TestMain(m *testing.M) {
	verify.RunChild()
	code := m.Run()
	if srv != nil {
		srv.Close()
		os.RemoveAll(srvDir)
	}
	os.Exit(code)
}

// server is one real etcd (TLS, client certificates required), seeded.
func server(t *testing.T) *etcdtest.Server {
	t.Helper()
	srvOnce.Do(func() {
		if srvDir, srvErr = os.MkdirTemp("", "metrics-test-etcd-"); srvErr != nil {
			return
		}
		if srv, srvErr = etcdtest.Start(srvDir, etcdtest.Options{}); srvErr != nil {
			return
		}
		srvErr = srv.Seed(context.Background(), "/registry/configmaps/", 200, 200)
	})
	if srvErr != nil {
		t.Fatal(srvErr)
	}
	return srv
}

// load builds the configuration the way the binary does, from the environment.
func load(t *testing.T, env map[string]string) config.Config {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "ETCD_BACKUP_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	t.Setenv("ETCD_BACKUP_WORK_DIR", t.TempDir())
	t.Setenv("ETCD_BACKUP_DIAL_TIMEOUT", "1s")
	cfg, err := config.Load()
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// runBackup runs one real backup with env, as if started at start (which
// names the snapshot), and returns its summary.
func runBackup(t *testing.T, env map[string]string, start time.Time) backup.Summary {
	t.Helper()
	cfg := load(t, env)
	sum, _ := backup.Run(context.Background(), cfg, backup.Deps{
		Log:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		Stdout: io.Discard,
		Now:    func() time.Time { return start },
	})
	return sum
}

// want is what one series must be; missing means the family must be absent.
type want struct {
	name    string
	labels  map[string]string
	value   float64
	missing bool
}

// TestRunsPublished publishes the metrics of real backup runs (a good one,
// one with a failing destination, one that could not take a snapshot) to a
// real Pushgateway and to a textfile, and reads them back after each run as
// Prometheus would. A failed run must leave the last success, and the size
// and revision of the last verified snapshot, as they were.
func TestRunsPublished(t *testing.T) {
	s := server(t)
	pgw := pushgatewaytest.Start(t)
	dir := t.TempDir()
	good, other := filepath.Join(dir, "good"), filepath.Join(dir, "other")
	notADir := filepath.Join(dir, "not-a-dir")
	if err := os.WriteFile(notADir, []byte("a file where a directory should be"), 0o600); err != nil {
		t.Fatal(err)
	}
	textfile := filepath.Join(t.TempDir(), "etcd_backup.prom")
	pub := metrics.Publisher{PushgatewayURL: pgw.URL, Instance: "cp-1", File: textfile}

	okEnv := s.Env()
	okEnv["ETCD_BACKUP_DESTINATIONS"] = good + "," + other
	badDestEnv := s.Env()
	badDestEnv["ETCD_BACKUP_DESTINATIONS"] = good + "," + notADir
	wrongCA, err := etcdtest.GenerateCerts(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	noSnapEnv := s.Env()
	noSnapEnv["ETCD_BACKUP_DESTINATIONS"] = good + "," + other
	noSnapEnv["ETCD_BACKUP_CACERT"] = wrongCA.CA

	t1 := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	first := runBackup(t, okEnv, t1)
	if first.Status != backup.StatusOK || first.Snapshot == nil {
		t.Fatalf("first run: %+v", first)
	}
	size, rev, keys := float64(first.Snapshot.Size), float64(first.Snapshot.Revision), float64(first.Snapshot.TotalKey)
	st, err := os.Stat(filepath.Join(good, first.Snapshot.Name))
	if err != nil {
		t.Fatal(err)
	}
	if float64(st.Size()) != size || rev < 1 || keys < 200 {
		t.Fatalf("summary figures size %v (file %d), revision %v, keys %v", size, st.Size(), rev, keys)
	}

	// A second run with more data writes a bigger snapshot at a higher revision.
	if err := s.Seed(context.Background(), "/registry/secrets/", 50, 500); err != nil {
		t.Fatal(err)
	}
	t2 := t1.Add(24 * time.Hour)
	second := runBackup(t, badDestEnv, t2)
	if second.Status != backup.StatusFailed || second.Snapshot == nil || len(second.Destinations) != 2 ||
		second.Destinations[0].Status != backup.StatusOK || second.Destinations[1].Status != backup.StatusFailed {
		t.Fatalf("second run, want a verified snapshot stored in the first destination only: %+v", second)
	}
	size2, rev2 := float64(second.Snapshot.Size), float64(second.Snapshot.Revision)
	if rev2 <= rev {
		t.Fatalf("second revision %v not above %v", rev2, rev)
	}

	t3 := t2.Add(24 * time.Hour)
	third := runBackup(t, noSnapEnv, t3)
	if third.Status != backup.StatusFailed || third.Snapshot != nil || third.FailedStep != backup.StepSnapshot {
		t.Fatalf("third run, want a failure at the snapshot: %+v", third)
	}

	dest := func(d string) map[string]string { return map[string]string{"destination": d} }
	steps := []struct {
		name     string
		sum      backup.Summary
		finished time.Time
		want     []want
	}{
		{"successful run", first, t1, []want{
			{name: metrics.LastRun, value: unix(t1)},
			{name: metrics.LastSuccess, value: unix(t1)},
			{name: metrics.SnapshotSize, value: size},
			{name: metrics.SnapshotRevision, value: rev},
			{name: metrics.SnapshotKeys, value: keys},
			{name: metrics.DestinationSuccess, labels: dest(good), value: 1},
			{name: metrics.DestinationSuccess, labels: dest(other), value: 1},
			{name: metrics.Pruned, labels: dest(good), value: 0},
			{name: metrics.StepDuration, labels: map[string]string{"step": backup.StepSnapshot}, value: first.Seconds[backup.StepSnapshot]},
			{name: metrics.StepDuration, labels: map[string]string{"step": backup.StepVerify}, value: first.Seconds[backup.StepVerify]},
			{name: metrics.DrillLastSuccess, missing: true},
		}},
		{"a destination fails", second, t2, []want{
			{name: metrics.LastRun, value: unix(t2)},
			{name: metrics.LastSuccess, value: unix(t1)},
			{name: metrics.SnapshotSize, value: size2},
			{name: metrics.SnapshotRevision, value: rev2},
			{name: metrics.DestinationSuccess, labels: dest(good), value: 1},
			{name: metrics.DestinationSuccess, labels: dest(notADir), value: 0},
			// the destination no longer configured is gone with the family it was in
			{name: metrics.DestinationSuccess, labels: dest(other), missing: true},
		}},
		{"no snapshot", third, t3, []want{
			{name: metrics.LastRun, value: unix(t3)},
			{name: metrics.LastSuccess, value: unix(t1)},
			{name: metrics.SnapshotSize, value: size2},
			{name: metrics.SnapshotRevision, value: rev2},
			// nothing reached the destinations: the previous outcomes stand
			{name: metrics.DestinationSuccess, labels: dest(notADir), value: 0},
			{name: metrics.DestinationSuccess, labels: dest(other), missing: true},
			{name: metrics.StepDuration, labels: map[string]string{"step": backup.StepVerify}, missing: true},
		}},
	}
	for _, step := range steps {
		if err := pub.Publish(context.Background(), backup.Metrics(step.sum, step.finished)); err != nil {
			t.Fatalf("%s: publishing: %v", step.name, err)
		}
		pushed := pgw.Scrape(t)
		file := readTextfile(t, textfile)
		for _, w := range step.want {
			group := map[string]string{"job": metrics.Job, "instance": "cp-1"}
			for k, v := range w.labels {
				group[k] = v
			}
			check(t, "pushgateway after "+step.name, pushed, w, group)
			check(t, "textfile after "+step.name, file, w, w.labels)
		}
	}
}

// TestInstancesDoNotOverwrite pushes two nodes' runs; each keeps its own.
func TestInstancesDoNotOverwrite(t *testing.T) {
	pgw := pushgatewaytest.Start(t)
	t1 := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	t2 := t1.Add(time.Hour)
	for _, run := range []struct {
		instance string
		at       time.Time
	}{{"cp-1", t1}, {"cp-2", t2}} {
		sum := backup.Summary{Status: backup.StatusOK, Destinations: []backup.DestResult{}}
		pub := metrics.Publisher{PushgatewayURL: pgw.URL, Instance: run.instance}
		if err := pub.Publish(context.Background(), backup.Metrics(sum, run.at)); err != nil {
			t.Fatal(err)
		}
	}
	got := pgw.Scrape(t)
	for _, w := range []want{
		{name: metrics.LastSuccess, labels: map[string]string{"job": metrics.Job, "instance": "cp-1"}, value: unix(t1)},
		{name: metrics.LastSuccess, labels: map[string]string{"job": metrics.Job, "instance": "cp-2"}, value: unix(t2)},
	} {
		check(t, "pushgateway", got, w, w.labels)
	}
}

// TestDrill publishes drills next to a backup's metrics: neither erases the
// other, and a failed drill keeps the last successful one.
func TestDrill(t *testing.T) {
	pgw := pushgatewaytest.Start(t)
	textfile := filepath.Join(t.TempDir(), "etcd_backup.prom")
	pub := metrics.Publisher{PushgatewayURL: pgw.URL, Instance: "cp-1", File: textfile}
	t0 := time.Date(2026, 11, 22, 17, 0, 0, 0, time.UTC)
	t1, t2 := t0.Add(time.Hour), t0.Add(8*24*time.Hour)
	backupRun := backup.Summary{Status: backup.StatusOK, Destinations: []backup.DestResult{}}
	steps := []struct {
		name string
		set  *metrics.Set
		want []want
	}{
		{"backup", backup.Metrics(backupRun, t0), []want{
			{name: metrics.LastSuccess, value: unix(t0)},
			{name: metrics.DrillLastRun, missing: true},
		}},
		{"successful drill", metrics.FromDrill(metrics.Drill{Success: true, Duration: 95 * time.Second, Finished: t1}), []want{
			{name: metrics.LastSuccess, value: unix(t0)},
			{name: metrics.DrillLastRun, value: unix(t1)},
			{name: metrics.DrillLastSuccess, value: unix(t1)},
			{name: metrics.DrillDuration, value: 95},
		}},
		{"failed drill", metrics.FromDrill(metrics.Drill{Success: false, Duration: 2500 * time.Millisecond, Finished: t2}), []want{
			{name: metrics.LastSuccess, value: unix(t0)},
			{name: metrics.DrillLastRun, value: unix(t2)},
			{name: metrics.DrillLastSuccess, value: unix(t1)},
			{name: metrics.DrillDuration, value: 2.5},
		}},
	}
	for _, step := range steps {
		if err := pub.Publish(context.Background(), step.set); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		pushed, file := pgw.Scrape(t), readTextfile(t, textfile)
		for _, w := range step.want {
			check(t, "pushgateway after "+step.name, pushed, w, map[string]string{"job": metrics.Job, "instance": "cp-1"})
			check(t, "textfile after "+step.name, file, w, nil)
		}
	}
}

// TestPushFailureStillWritesFile: a Pushgateway that refuses the push is an
// error naming it, and the textfile is written all the same.
func TestPushFailureStillWritesFile(t *testing.T) {
	pgw := pushgatewaytest.Start(t)
	textfile := filepath.Join(t.TempDir(), "etcd_backup.prom")
	// No such route on the Pushgateway: it answers 404.
	pub := metrics.Publisher{PushgatewayURL: pgw.URL + "/no-such-prefix", Instance: "cp-1", File: textfile}
	at := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	err := pub.Publish(context.Background(), backup.Metrics(backup.Summary{Status: backup.StatusOK}, at))
	if err == nil || !strings.Contains(err.Error(), "pushing metrics to "+pgw.URL+"/no-such-prefix") {
		t.Fatalf("err = %v, want the push failure naming the URL", err)
	}
	check(t, "textfile", readTextfile(t, textfile), want{name: metrics.LastSuccess, value: unix(at)}, nil)
	if _, ok := pgw.Scrape(t)[metrics.LastSuccess]; ok {
		t.Error("the refused push reached the Pushgateway")
	}
}

// TestTextfileWrittenAtomically: readable by node-exporter (which does not
// run as root), no temporary file left, and a previous file that cannot be
// read is left alone rather than replaced by one without the last success.
func TestTextfileWrittenAtomically(t *testing.T) {
	dir := t.TempDir()
	textfile := filepath.Join(dir, "etcd_backup.prom")
	pub := metrics.Publisher{File: textfile}
	at := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	if err := pub.Publish(context.Background(), backup.Metrics(backup.Summary{Status: backup.StatusOK}, at)); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(textfile)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644 so that node-exporter can read it", st.Mode().Perm())
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the metrics file", len(entries))
	}

	garbage := []byte("this is { not the text format\n")
	if err := os.WriteFile(textfile, garbage, 0o644); err != nil {
		t.Fatal(err)
	}
	err = pub.Publish(context.Background(), backup.Metrics(backup.Summary{Status: backup.StatusFailed}, at.Add(time.Hour)))
	if err == nil || !strings.Contains(err.Error(), "previous metrics") {
		t.Fatalf("err = %v, want one about reading the previous metrics", err)
	}
	got, err := os.ReadFile(textfile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, garbage) {
		t.Errorf("the unreadable file was replaced:\n%s", got)
	}
}

// TestNamesFollowConventions runs `promtool check metrics` (Prometheus'
// naming and type lint) on everything a backup and a drill write.
func TestNamesFollowConventions(t *testing.T) {
	dir, err := blobtest.ToolsDir()
	if err != nil {
		t.Fatal(err)
	}
	promtool := filepath.Join(dir, "bin", "promtool")
	if _, err := os.Stat(promtool); err != nil {
		msg := fmt.Sprintf("promtool is not installed (%v); run ci/install-prometheus-tools.sh", err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + " — CI=true requires it")
		}
		t.Skip(msg)
	}
	textfile := filepath.Join(t.TempDir(), "etcd_backup.prom")
	pub := metrics.Publisher{File: textfile}
	at := time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)
	sum := backup.Summary{
		Status:       backup.StatusOK,
		Snapshot:     &backup.SnapshotInfo{Size: 1 << 20},
		Seconds:      map[string]float64{backup.StepSnapshot: 1.5, backup.StepVerify: 0.5},
		Destinations: []backup.DestResult{{Destination: "/backup/host", Status: backup.StatusOK, PrunedCount: 2}},
	}
	for _, set := range []*metrics.Set{backup.Metrics(sum, at), metrics.FromDrill(metrics.Drill{Success: true, Duration: time.Minute, Finished: at})} {
		if err := pub.Publish(context.Background(), set); err != nil {
			t.Fatal(err)
		}
	}
	text, err := os.ReadFile(textfile)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(text)
	if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("promtool check metrics: %v\n%s\non:\n%s", err, out, text)
	}
}

func unix(t time.Time) float64 { return float64(t.Unix()) }

func readTextfile(t *testing.T, path string) map[string]*dto.MetricFamily {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := parser.TextToMetricFamilies(f)
	if err != nil {
		t.Fatalf("parsing %s: %v", path, err)
	}
	return mfs
}

// check finds the series of w.name whose labels include labels and compares
// its value, or checks that there is none.
func check(t *testing.T, where string, mfs map[string]*dto.MetricFamily, w want, labels map[string]string) {
	t.Helper()
	var found *dto.Metric
	if mf, ok := mfs[w.name]; ok {
		for _, m := range mf.GetMetric() {
			if hasLabels(m, labels) {
				found = m
			}
		}
	}
	switch {
	case w.missing && found != nil:
		t.Errorf("%s: %s%v present, want absent", where, w.name, labels)
	case !w.missing && found == nil:
		t.Errorf("%s: no %s%v", where, w.name, labels)
	case !w.missing:
		v := found.GetGauge().GetValue() + found.GetCounter().GetValue()
		if math.Abs(v-w.value) > 1e-9*math.Max(1, math.Abs(w.value)) {
			t.Errorf("%s: %s%v = %v, want %v", where, w.name, labels, v, w.value)
		}
	}
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	have := map[string]string{}
	for _, l := range m.GetLabel() {
		have[l.GetName()] = l.GetValue()
	}
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}
