package chart

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"sigs.k8s.io/yaml"
)

const restoreRunbook = "https://github.com/etcd-backup/etcd-backup/blob/main/docs/restore.md"

// pushedValues enables the rule and a Pushgateway, so that every alert is rendered.
const pushedValues = `
prometheusRule: {enabled: true, additionalLabels: {release: kube-prometheus-stack}}
metrics: {pushgatewayUrl: "http://prometheus-pushgateway.monitoring.svc:9091"}
drill: {enabled: true}
`

func TestPrometheusRule(t *testing.T) {
	kubeOnly := []string{"EtcdBackupTooOld", "EtcdBackupJobFailed", "EtcdBackupCronJobSuspended"}
	all := append(slices.Clone(kubeOnly), "EtcdBackupDestinationFailing", "EtcdBackupSnapshotShrank")
	cases := []struct {
		name   string
		values string
		// alerts is every alert, in order; nil means no PrometheusRule at all.
		alerts []string
		check  func(t *testing.T, pr *monitoringv1.PrometheusRule)
	}{
		{name: "off by default", values: "", alerts: nil},
		{
			name:   "kube-state-metrics only",
			values: "prometheusRule: {enabled: true}",
			alerts: kubeOnly,
			check: func(t *testing.T, pr *monitoringv1.PrometheusRule) {
				for _, r := range pr.Spec.Groups[0].Rules {
					if got := r.Annotations["runbook_url"]; got != restoreRunbook {
						t.Errorf("%s: runbook_url %q, want the restore runbook %q by default", r.Alert, got, restoreRunbook)
					}
				}
			},
		},
		{
			name:   "pushed metrics add their alerts, the drill its own",
			values: pushedValues,
			alerts: append(slices.Clone(all), "EtcdBackupDrillTooOld", "EtcdBackupDrillFailed"),
			check: func(t *testing.T, pr *monitoringv1.PrometheusRule) {
				if pr.Labels["release"] != "kube-prometheus-stack" || pr.Labels["app.kubernetes.io/instance"] != releaseName {
					t.Errorf("labels %v, want the chart's and additionalLabels", pr.Labels)
				}
				if pr.Name != releaseName || pr.Namespace != namespace {
					t.Errorf("PrometheusRule %s/%s, want %s/%s", pr.Namespace, pr.Name, namespace, releaseName)
				}
			},
		},
		{
			name:   "textfile metrics add their alerts",
			values: "prometheusRule: {enabled: true}\nmetrics: {textfile: {enabled: true}}",
			alerts: all,
		},
		{
			name: "disabled alerts, labels, runbook and thresholds",
			values: `prometheusRule:
  enabled: true
  disabledAlerts: [EtcdBackupCronJobSuspended, EtcdBackupSnapshotShrank]
  additionalRuleLabels: {team: platform}
  runbookUrl: https://wiki.example/etcd-restore
  maxAge: 3d
  metricsSelector: 'instance=~"prod-.*"'
  severity: {tooOld: page}
  snapshotShrink: {fraction: 0.25, window: 7d}
metrics: {pushgatewayUrl: "http://pgw:9091"}`,
			alerts: []string{"EtcdBackupTooOld", "EtcdBackupJobFailed", "EtcdBackupDestinationFailing"},
			check: func(t *testing.T, pr *monitoringv1.PrometheusRule) {
				for _, r := range pr.Spec.Groups[0].Rules {
					if r.Labels["team"] != "platform" || r.Annotations["runbook_url"] != "https://wiki.example/etcd-restore" {
						t.Errorf("%s: labels %v, runbook %q", r.Alert, r.Labels, r.Annotations["runbook_url"])
					}
				}
				tooOld := rule(t, pr, "EtcdBackupTooOld")
				if tooOld.Labels["severity"] != "page" || !strings.Contains(tooOld.Expr.StrVal, "> 259200") {
					t.Errorf("EtcdBackupTooOld severity %q expr %s; want page and 3d = 259200s", tooOld.Labels["severity"], tooOld.Expr.StrVal)
				}
				if e := rule(t, pr, "EtcdBackupDestinationFailing").Expr.StrVal; !strings.Contains(e, `etcd_backup_destination_success{instance=~"prod-.*"}`) {
					t.Errorf("metricsSelector not applied: %s", e)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := render(t, tc.values)
			if err != nil {
				t.Fatal(err)
			}
			pr := r.PrometheusRule
			if tc.alerts == nil {
				if pr != nil {
					t.Fatalf("PrometheusRule rendered with %q", tc.values)
				}
				return
			}
			if pr == nil {
				t.Fatal("no PrometheusRule rendered")
			}
			var names []string
			for _, g := range pr.Spec.Groups {
				for _, rl := range g.Rules {
					names = append(names, rl.Alert)
					checkAlertDoc(t, rl)
				}
			}
			if !slices.Equal(names, tc.alerts) {
				t.Errorf("alerts %q, want %q", names, tc.alerts)
			}
			if tc.check != nil {
				tc.check(t, pr)
			}
		})
	}
}

// checkAlertDoc: the labels and annotations prometheus-community charts give
// every alert.
func checkAlertDoc(t *testing.T, r monitoringv1.Rule) {
	t.Helper()
	if r.Labels["severity"] == "" {
		t.Errorf("%s has no severity label", r.Alert)
	}
	for _, a := range []string{"summary", "description", "runbook_url"} {
		if r.Annotations[a] == "" {
			t.Errorf("%s has no %s annotation", r.Alert, a)
		}
	}
}

// TestAlertMaxAgeFromSchedule: the age EtcdBackupTooOld fires at follows the
// schedule unless prometheusRule.maxAge is set.
func TestAlertMaxAgeFromSchedule(t *testing.T) {
	cases := []struct {
		schedule string
		want     string // seconds in the expression
	}{
		{"0 17 * * *", "93600"},     // daily: 24h + 2h
		{"@daily", "93600"},         //
		{"30 2,14 * * *", "93600"},  // a list of hours: at most 24h apart
		{"5 * * * *", "10800"},      // hourly: 1h + 2h
		{"@hourly", "10800"},        //
		{"0 */6 * * *", "28800"},    // every 6h: 6h + 2h
		{"0 3 * * 0", "612000"},     // weekly: 168h + 2h
		{"0 4 * * 1,3,5", "612000"}, // some days of the week: at most a week apart
		{"@weekly", "612000"},       //
		{"0 3 1 * *", "93600"},      // monthly is not a simple form: 26h
		{"*/10 * * * *", "93600"},   // a minute step: 26h
		{"0 9-17 * * *", "93600"},   // a range: 26h
		{"0 17 * * MON", "93600"},   // day names: 26h
		{"0 */6 * * 0", "93600"},    // every 6h on Sundays: 26h
		{"@every 12h", "93600"},     // not cron: 26h
		{"0 17 ? * *", "93600"},     // ? for a day: 26h
	}
	for _, tc := range cases {
		t.Run(tc.schedule, func(t *testing.T) {
			vals, err := yaml.Marshal(map[string]any{"schedule": tc.schedule, "prometheusRule": map[string]any{"enabled": true}})
			if err != nil {
				t.Fatal(err)
			}
			r, err := render(t, string(vals))
			if err != nil {
				t.Fatal(err)
			}
			e := rule(t, r.PrometheusRule, "EtcdBackupTooOld").Expr.StrVal
			if !strings.Contains(e, "> "+tc.want+"\n") {
				t.Errorf("schedule %q: expression does not compare with %s:\n%s", tc.schedule, tc.want, e)
			}
		})
	}
	t.Run("maxAge set", func(t *testing.T) {
		r, err := render(t, "prometheusRule: {enabled: true, maxAge: 90m}")
		if err != nil {
			t.Fatal(err)
		}
		if e := rule(t, r.PrometheusRule, "EtcdBackupTooOld").Expr.StrVal; !strings.Contains(e, "> 5400\n") {
			t.Errorf("maxAge 90m not 5400s:\n%s", e)
		}
	})
}

func rule(t *testing.T, pr *monitoringv1.PrometheusRule, alert string) monitoringv1.Rule {
	t.Helper()
	if pr == nil {
		t.Fatal("no PrometheusRule rendered")
	}
	for _, g := range pr.Spec.Groups {
		for _, r := range g.Rules {
			if r.Alert == alert {
				return r
			}
		}
	}
	t.Fatalf("no alert %s", alert)
	return monitoringv1.Rule{}
}

// TestPrometheusRuleWithPromtool extracts the rendered rule groups to a rule
// file and runs Prometheus' own checks and the unit tests in
// testdata/prometheusrule.test.yaml (series that fire and do not fire each
// alert) on it.
func TestPrometheusRuleWithPromtool(t *testing.T) {
	promtool := promtoolPath(t)
	r, err := render(t, pushedValues)
	if err != nil {
		t.Fatal(err)
	}
	rules, err := yaml.Marshal(r.PrometheusRule.Spec)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rules.yaml"), rules, 0o644); err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile(filepath.Join("testdata", "prometheusrule.test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tests.yaml"), tests, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"check", "rules", "rules.yaml"}, {"test", "rules", "tests.yaml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("promtool %s: %v\n%s\nrules:\n%s", strings.Join(args, " "), err, out, rules)
		}
		t.Logf("promtool %s:\n%s", strings.Join(args, " "), out)
	}
}

// promtoolPath finds promtool where ci/install-prometheus-tools.sh puts it; a
// missing promtool skips the test, and fails it under CI=true.
func promtoolPath(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("TOOLS_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", ".tools")
	}
	p, err := filepath.Abs(filepath.Join(dir, "bin", "promtool"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = os.Stat(p)
	if err == nil {
		return p
	}
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	msg := "promtool is not installed at " + p + "; run ci/install-prometheus-tools.sh"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " (CI=true requires it)")
	}
	t.Skip(msg)
	return ""
}

// TestMetricsValues: where the CronJob's runs send their metrics.
func TestMetricsValues(t *testing.T) {
	t.Run("off by default", func(t *testing.T) {
		r, err := render(t, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range container(t, r).Env {
			if strings.Contains(e.Name, "PUSHGATEWAY") || strings.Contains(e.Name, "METRICS") {
				t.Errorf("%s set without metrics values", e.Name)
			}
		}
		if hasVolume(podSpec(r), "metrics-textfile") {
			t.Error("textfile volume without metrics.textfile.enabled")
		}
		if !strings.Contains(r.Notes, "kubectl get cronjob etcd-backup -n kube-system -o jsonpath='{.status.lastSuccessfulTime}") {
			t.Errorf("NOTES.txt does not say how to see the last success:\n%s", r.Notes)
		}
	})
	t.Run("pushgateway and textfile", func(t *testing.T) {
		r, err := render(t, `metrics:
  pushgatewayUrl: http://prometheus-pushgateway.monitoring.svc:9091
  textfile: {enabled: true, hostPath: /var/lib/node-exporter/textfile, fileName: etcd.prom}
prometheusRule: {enabled: true}`)
		if err != nil {
			t.Fatal(err)
		}
		checkGolden(t, "monitoring", goldenText(r))
		wantEnv(t, r, map[string]string{
			"ETCD_BACKUP_PUSHGATEWAY_URL": "http://prometheus-pushgateway.monitoring.svc:9091",
			"ETCD_BACKUP_METRICS_FILE":    "/metrics-textfile/etcd.prom",
		})
		inst := envVar(t, r, "ETCD_BACKUP_METRICS_INSTANCE")
		if inst.ValueFrom == nil || inst.ValueFrom.FieldRef == nil || inst.ValueFrom.FieldRef.FieldPath != "spec.nodeName" {
			t.Errorf("ETCD_BACKUP_METRICS_INSTANCE %+v, want the node name from the downward API", inst)
		}
		v := volume(t, podSpec(r), "metrics-textfile")
		if v.HostPath == nil || v.HostPath.Path != "/var/lib/node-exporter/textfile" {
			t.Errorf("textfile volume %+v, want hostPath /var/lib/node-exporter/textfile", v.VolumeSource)
		}
		if m, ok := mountFor(container(t, r), "/metrics-textfile/etcd.prom"); !ok || m.Name != "metrics-textfile" || m.ReadOnly {
			t.Errorf("the metrics file is not on the writable textfile mount: %+v", m)
		}
		for _, want := range []string{"etcd_backup_last_success_timestamp_seconds", "EtcdBackupTooOld firing after 26h"} {
			if !strings.Contains(r.Notes, want) {
				t.Errorf("NOTES.txt lacks %q:\n%s", want, r.Notes)
			}
		}
	})
	t.Run("instance set", func(t *testing.T) {
		r, err := render(t, "metrics: {pushgatewayUrl: 'https://pgw.example', instance: prod-cp}")
		if err != nil {
			t.Fatal(err)
		}
		wantEnv(t, r, map[string]string{"ETCD_BACKUP_METRICS_INSTANCE": "prod-cp"})
	})
}

func TestMonitoringValuesRefused(t *testing.T) {
	cases := []struct{ name, values, want string }{
		{"pushgateway without scheme", "metrics: {pushgatewayUrl: 'pgw:9091'}", "/metrics/pushgatewayUrl"},
		{"pushgateway with credentials", "metrics: {pushgatewayUrl: 'https://u:p@pgw:9091'}", "/metrics/pushgatewayUrl"},
		{"textfile not .prom", "metrics: {textfile: {enabled: true, fileName: etcd.txt}}", "/metrics/textfile/fileName"},
		{"textfile relative dir", "metrics: {textfile: {enabled: true, hostPath: var/lib}}", "/metrics/textfile/hostPath"},
		{"maxAge in seconds", "prometheusRule: {enabled: true, maxAge: 3600s}", "/prometheusRule/maxAge"},
		{"shrink fraction 1", "prometheusRule: {snapshotShrink: {fraction: 1}}", "/prometheusRule/snapshotShrink/fraction"},
		{"unknown alert", "prometheusRule: {disabledAlerts: [EtcdBackupTooOldd]}", "/prometheusRule/disabledAlerts"},
		{"selector with braces", "prometheusRule: {metricsSelector: '{job=\"x\"}'}", "/prometheusRule/metricsSelector"},
		{"unknown key", "prometheusRule: {enable: true}", "additional properties 'enable' not allowed"},
		{
			"every alert disabled",
			"prometheusRule: {enabled: true, disabledAlerts: [EtcdBackupTooOld, EtcdBackupJobFailed, EtcdBackupCronJobSuspended]}",
			"leaves no alert to create",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := render(t, tc.values)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one naming %q", err, tc.want)
			}
		})
	}
}
