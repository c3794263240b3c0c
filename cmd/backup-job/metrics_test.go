package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/etcd-backup/etcd-backup/internal/etcdtest"
	"github.com/etcd-backup/etcd-backup/internal/metrics"
	"github.com/etcd-backup/etcd-backup/internal/pushgatewaytest"
	"github.com/etcd-backup/etcd-backup/internal/testkit"
)

// TestMetricsPublished runs the command as the CronJob does, with a real
// Pushgateway and a textfile: a good run, a failed run (the last success
// stays), and a run whose push is refused (a warning, exit status 0).
func TestMetricsPublished(t *testing.T) {
	srv, err := etcdtest.Start(t.TempDir(), etcdtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	pgw := pushgatewaytest.Start(t)
	textfile := filepath.Join(t.TempDir(), "etcd_backup.prom")
	dest := t.TempDir()

	cases := []struct {
		name        string
		env         map[string]string
		code        int
		stderr      string
		successKept bool // the last success is the previous run's
	}{
		{name: "backup", code: 0, stderr: `"msg":"backup done"`},
		{name: "etcd down", env: map[string]string{"ETCD_BACKUP_ENDPOINTS": "https://127.0.0.1:1", "ETCD_BACKUP_DIAL_TIMEOUT": "1s"}, code: 1, successKept: true},
		{name: "push refused", env: map[string]string{"ETCD_BACKUP_PUSHGATEWAY_URL": pgw.URL + "/no-such-prefix"}, code: 0, stderr: "could not publish metrics"},
	}
	var lastSuccess float64
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			testkit.ClearEnv(t, "ETCD_BACKUP_")
			for k, v := range srv.Env() {
				t.Setenv(k, v)
			}
			t.Setenv("ETCD_BACKUP_DESTINATIONS", dest)
			t.Setenv("ETCD_BACKUP_PUSHGATEWAY_URL", pgw.URL)
			t.Setenv("ETCD_BACKUP_METRICS_FILE", textfile)
			t.Setenv("ETCD_BACKUP_METRICS_INSTANCE", "cp-1")
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			var stdout, stderr bytes.Buffer
			if code := run(nil, &stdout, &stderr); code != c.code || !strings.Contains(stderr.String(), c.stderr) {
				t.Fatalf("exit %d (want %d), stderr %q (want %q)", code, c.code, stderr.String(), c.stderr)
			}
			f, err := os.Open(textfile)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			parser := expfmt.NewTextParser(model.UTF8Validation)
			file, err := parser.TextToMetricFamilies(f)
			if err != nil {
				t.Fatal(err)
			}
			lastRun := file[metrics.LastRun].GetMetric()[0].GetGauge().GetValue()
			success := file[metrics.LastSuccess].GetMetric()[0].GetGauge().GetValue()
			if c.successKept && success != lastSuccess || !c.successKept && success != lastRun {
				t.Errorf("textfile: last success %v, last run %v, previous success %v", success, lastRun, lastSuccess)
			}
			lastSuccess = success
			if c.name == "push refused" {
				return
			}
			pushed := pgw.Scrape(t)
			if got := pushed[metrics.LastSuccess].GetMetric()[0].GetGauge().GetValue(); got != success {
				t.Errorf("pushgateway: last success %v, textfile %v", got, success)
			}
			if got := pushed[metrics.LastRun].GetMetric()[0].GetGauge().GetValue(); got != lastRun {
				t.Errorf("pushgateway: last run %v, textfile %v", got, lastRun)
			}
		})
	}
}
