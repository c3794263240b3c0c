package chart

import (
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/etcd-backup/etcd-backup/internal/config"
)

func drillPod(r *release) *corev1.PodSpec {
	return &r.DrillCronJob.Spec.JobTemplate.Spec.Template.Spec
}

func TestDrillCronJob(t *testing.T) {
	cases := []struct {
		name   string
		values string
		golden string
		check  func(t *testing.T, r *release)
	}{
		{name: "off by default", check: func(t *testing.T, r *release) {
			if r.DrillCronJob != nil {
				t.Fatal("drill CronJob rendered by default")
			}
		}},
		{
			name:   "enabled with the defaults",
			values: "drill: {enabled: true}",
			check: func(t *testing.T, r *release) {
				cj := r.DrillCronJob
				if cj.Name != releaseName+"-drill" || cj.Namespace != namespace || cj.Spec.Schedule != "0 5 * * 0" ||
					deref(cj.Spec.TimeZone) != "Asia/Seoul" || cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
					t.Errorf("drill CronJob %s/%s schedule %q timeZone %v concurrency %q", cj.Namespace, cj.Name, cj.Spec.Schedule, cj.Spec.TimeZone, cj.Spec.ConcurrencyPolicy)
				}
				c := drillPod(r).Containers[0]
				if !slices.Equal(c.Args, []string{"drill"}) {
					t.Errorf("args %q, want [drill]: the last destination, the Kubernetes check on", c.Args)
				}
				if lim := c.Resources.Limits.Memory(); lim.Cmp(resource.MustParse("1536Mi")) < 0 {
					t.Errorf("memory limit %s is below a 1 GiB database's resident memory", lim)
				}
				if v := volume(t, drillPod(r), "scratch"); v.EmptyDir == nil || v.EmptyDir.SizeLimit.Cmp(resource.MustParse("20Gi")) != 0 {
					t.Errorf("scratch %+v, want a 20Gi emptyDir", v.VolumeSource)
				}
			},
		},
		{
			name: "from the bucket, any etcd, object storage credentials and a Pushgateway",
			values: `drill: {enabled: true, from: "s3://b/etcd?region=eu-west-1", kubernetes: false, schedule: "@weekly"}
objectStorage: {enabled: true, url: "s3://b/etcd?region=eu-west-1", existingSecret: s3-creds}
metrics: {pushgatewayUrl: "http://pgw:9091"}
etcd: {auth: {existingSecret: etcd-user}}`,
			golden: "drill",
			check: func(t *testing.T, r *release) {
				c := drillPod(r).Containers[0]
				if !slices.Equal(c.Args, []string{"drill", "--from=s3://b/etcd?region=eu-west-1", "--kubernetes=false"}) {
					t.Errorf("args %q", c.Args)
				}
				if len(c.EnvFrom) != 1 || c.EnvFrom[0].SecretRef == nil || c.EnvFrom[0].SecretRef.Name != "s3-creds" {
					t.Errorf("envFrom %+v, want the object storage Secret", c.EnvFrom)
				}
				names := map[string]bool{}
				for _, e := range c.Env {
					names[e.Name] = true
				}
				for _, n := range []string{"ETCD_BACKUP_PUSHGATEWAY_URL", "ETCD_BACKUP_METRICS_INSTANCE", "ETCD_BACKUP_USERNAME", "ETCD_BACKUP_PASSWORD"} {
					if !names[n] {
						t.Errorf("%s not set on the drill", n)
					}
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
			tc.check(t, r)
			if r.DrillCronJob != nil {
				checkDrill(t, r)
			}
			if tc.golden != "" {
				checkGolden(t, tc.golden, goldenText(r))
			}
		})
	}
}

// checkDrill holds for every drill: it runs beside the backup's volumes but
// never near etcd, locked down like the backup, fails at once on a bad
// configuration, and the drill accepts its environment.
func checkDrill(t *testing.T, r *release) {
	t.Helper()
	cj := r.DrillCronJob
	if n := len(cj.Name); n > 52 || !strings.HasSuffix(cj.Name, "-drill") {
		t.Errorf("drill CronJob name %q (%d characters; at most 52)", cj.Name, n)
	}
	pod, backup := drillPod(r), podSpec(r)
	if pod.HostNetwork {
		t.Error("the drill uses the host's network: its throwaway etcd would listen on the node's loopback")
	}
	if hasVolume(pod, "etcd-certs") {
		t.Error("the drill mounts etcd's certificates")
	}
	c := pod.Containers[0]
	for _, m := range c.VolumeMounts {
		if m.Name != "scratch" && m.Name != "metrics-textfile" && !m.ReadOnly {
			t.Errorf("the drill mounts %s writable", m.Name)
		}
	}
	if !reflect.DeepEqual(pod.SecurityContext, backup.SecurityContext) || !reflect.DeepEqual(c.SecurityContext, container(t, r).SecurityContext) {
		t.Error("the drill's security context differs from the backup's")
	}
	if !reflect.DeepEqual(pod.NodeSelector, backup.NodeSelector) || !reflect.DeepEqual(pod.Tolerations, backup.Tolerations) || !reflect.DeepEqual(pod.Affinity, backup.Affinity) {
		t.Error("the drill is not placed like the backup (its local destinations are on those nodes)")
	}
	pfp := cj.Spec.JobTemplate.Spec.PodFailurePolicy
	if pod.RestartPolicy != corev1.RestartPolicyNever || pfp == nil || len(pfp.Rules) != 2 ||
		pfp.Rules[0].Action != batchv1.PodFailurePolicyActionFailJob || pfp.Rules[0].OnExitCodes == nil ||
		deref(pfp.Rules[0].OnExitCodes.ContainerName) != c.Name || !slices.Equal(pfp.Rules[0].OnExitCodes.Values, []int32{2}) {
		t.Errorf("restartPolicy %q podFailurePolicy %+v; want Never and FailJob on exit status 2 of %s", pod.RestartPolicy, pfp, c.Name)
	}
	backupDest := envVar(t, r, "ETCD_BACKUP_DESTINATIONS").Value
	drillDest := ""
	for _, e := range c.Env {
		if e.Name == "ETCD_BACKUP_DESTINATIONS" {
			drillDest = e.Value
		}
	}
	if drillDest != backupDest {
		t.Errorf("the drill reads %q, the backup writes %q", drillDest, backupDest)
	}
	checkDrillAcceptsEnv(t, c)
}

// checkDrillAcceptsEnv loads the drill's configuration from the rendered
// environment, as the drill does.
func checkDrillAcceptsEnv(t *testing.T, c corev1.Container) {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, config.Prefix+"_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	for _, e := range c.Env {
		v := e.Value
		if e.ValueFrom != nil {
			v = "from-secret"
		}
		t.Setenv(e.Name, v)
	}
	if _, err := config.LoadForDrill(); err != nil {
		t.Errorf("the drill refuses the rendered configuration: %v", err)
	}
}

func TestDrillNameFitsLimit(t *testing.T) {
	r, err := render(t, "drill: {enabled: true}", withReleaseName(strings.Repeat("r", 53)))
	if err != nil {
		t.Fatal(err)
	}
	checkDrill(t, r)
}

func TestDrillValuesRefused(t *testing.T) {
	cases := []struct{ name, values, want string }{
		{"relative from", "drill: {enabled: true, from: backups}", "/drill/from"},
		{"bad schedule", "drill: {enabled: true, schedule: weekly}", "/drill/schedule"},
		{"unknown key", "drill: {enabled: true, form: /backup/host}", "form"},
		{"unknown alert disabled", "prometheusRule: {enabled: true, disabledAlerts: [EtcdBackupDrillLate]}", "disabledAlerts"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := render(t, tc.values)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("render error %v, want one naming %s", err, tc.want)
			}
		})
	}
}
