package chart

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/etcd-backup/etcd-backup/internal/config"
)

const (
	certMount   = "/etc/kubernetes/pki/etcd"
	hostMount   = "/backup/host"
	pvcMount    = "/backup/pvc"
	workDir     = "/tmp"
	imageRepo   = "ghcr.io/etcd-backup/etcd-backup"
	controlRole = "node-role.kubernetes.io/control-plane"
)

// valuesCase is one values file that must install, with what must be true of
// the result beyond the checks every render gets.
type valuesCase struct {
	file string
	// golden names testdata/<golden>.golden.yaml; empty means no golden file.
	golden string
	check  func(t *testing.T, r *release)
}

func valuesFile(name string) string  { return filepath.Join("testdata", "values", name+".yaml") }
func exampleFile(name string) string { return filepath.Join(chartDir, "examples", name+".yaml") }

func runValuesCases(t *testing.T, cases []valuesCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(strings.TrimSuffix(filepath.Base(tc.file), ".yaml"), func(t *testing.T) {
			values, err := os.ReadFile(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			r, err := render(t, string(values))
			if err != nil {
				t.Fatalf("render refused %s: %v", tc.file, err)
			}
			if r.CronJob == nil {
				t.Fatal("no CronJob rendered")
			}
			checkEveryRender(t, r)
			checkBinaryAcceptsEnv(t, r)
			tc.check(t, r)
			if tc.golden != "" {
				checkGolden(t, tc.golden, goldenText(r))
			}
		})
	}
}

// goldenText is the manifests followed by NOTES.txt as comments.
func goldenText(r *release) string {
	var b strings.Builder
	b.WriteString(r.Manifests)
	b.WriteString("---\n# Source: etcd-backup/templates/NOTES.txt\n")
	for _, l := range strings.Split(strings.TrimRight(r.Notes, "\n"), "\n") {
		b.WriteString(strings.TrimRight("# "+l, " ") + "\n")
	}
	return b.String()
}

// checkEveryRender holds for any values an install accepts: the pod runs on a
// control-plane node with the host's network, every mount has its volume,
// the destinations are exactly the writable backup mounts plus URLs, the
// certificate files lie in the read-only certificate mount, and the
// container is locked down.
func checkEveryRender(t *testing.T, r *release) {
	t.Helper()
	cj := r.CronJob
	if cj.Namespace != namespace {
		t.Errorf("CronJob namespace %q, want the release namespace %q", cj.Namespace, namespace)
	}
	if n := len(cj.Name); n == 0 || n > 52 {
		t.Errorf("CronJob name %q has %d characters; the controller needs at most 52", cj.Name, n)
	}
	pod := podSpec(r)
	if pod.HostNetwork != (pod.DNSPolicy == corev1.DNSClusterFirstWithHostNet) {
		t.Errorf("hostNetwork %v with dnsPolicy %q: cluster DNS needs ClusterFirstWithHostNet exactly with the host network", pod.HostNetwork, pod.DNSPolicy)
	}
	if _, ok := pod.NodeSelector[controlRole]; !ok {
		t.Errorf("nodeSelector %v does not pin the pod to a control-plane node (%s)", pod.NodeSelector, controlRole)
	}
	if !slices.ContainsFunc(pod.Tolerations, func(tol corev1.Toleration) bool {
		return tol.Key == controlRole && tol.Operator == corev1.TolerationOpExists && (tol.Effect == "" || tol.Effect == corev1.TaintEffectNoSchedule)
	}) {
		t.Errorf("tolerations %+v lack the control-plane NoSchedule taint", pod.Tolerations)
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("the pod mounts a Kubernetes API token it does not need")
	}
	if pod.EnableServiceLinks == nil || *pod.EnableServiceLinks {
		t.Error("enableServiceLinks is not false: Services would inject environment variables")
	}
	if pod.RestartPolicy != corev1.RestartPolicyNever && pod.RestartPolicy != corev1.RestartPolicyOnFailure {
		t.Errorf("restartPolicy %q", pod.RestartPolicy)
	}
	if len(pod.Containers) != 1 || len(pod.InitContainers) != 0 {
		t.Fatalf("%d containers and %d init containers, want one container", len(pod.Containers), len(pod.InitContainers))
	}
	c := &pod.Containers[0]

	// Every mount has a volume, every volume is mounted once.
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		if _, dup := volumes[v.Name]; dup {
			t.Errorf("volume %q defined twice", v.Name)
		}
		volumes[v.Name] = v
	}
	mounted := map[string]bool{}
	mountPaths := map[string]bool{}
	for _, m := range c.VolumeMounts {
		if _, ok := volumes[m.Name]; !ok {
			t.Errorf("volumeMount %q at %s has no volume", m.Name, m.MountPath)
		}
		if mountPaths[m.MountPath] {
			t.Errorf("two mounts at %s", m.MountPath)
		}
		mounted[m.Name], mountPaths[m.MountPath] = true, true
	}
	for name := range volumes {
		if !mounted[name] {
			t.Errorf("volume %q is never mounted", name)
		}
	}

	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		if _, dup := env[e.Name]; dup && strings.HasPrefix(e.Name, "ETCD_BACKUP_") {
			t.Errorf("env %s set twice", e.Name)
		}
		env[e.Name] = e
	}

	// Destinations: each local one is a writable mount; the chart's own backup
	// mounts are listed exactly when they are mounted.
	dests := strings.Split(env["ETCD_BACKUP_DESTINATIONS"].Value, ",")
	if len(dests) == 0 || dests[0] == "" {
		t.Fatal("ETCD_BACKUP_DESTINATIONS is empty")
	}
	for _, d := range dests {
		if !strings.HasPrefix(d, "/") {
			continue
		}
		m, ok := mountFor(c, d)
		if !ok {
			t.Errorf("destination %s is on no volume mount: the copy would go to the container's (read-only) root filesystem", d)
			continue
		}
		if m.ReadOnly {
			t.Errorf("destination %s is on the read-only mount %q", d, m.Name)
		}
	}
	for name, p := range map[string]string{"backup-host": hostMount, "backup-pvc": pvcMount} {
		m, isMounted := mountNamed(c, name)
		if isMounted != slices.Contains(dests, p) {
			t.Errorf("volume %s mounted=%v but %s in ETCD_BACKUP_DESTINATIONS=%v", name, isMounted, p, slices.Contains(dests, p))
		}
		if isMounted && m.MountPath != p {
			t.Errorf("volume %s mounted at %s, want %s", name, m.MountPath, p)
		}
	}

	// Certificates: each file that is set is mounted read-only, alone, at
	// its own path, from the same path on the node; nothing else is.
	certMounts := 0
	for _, name := range []string{"ETCD_BACKUP_CACERT", "ETCD_BACKUP_CERT", "ETCD_BACKUP_KEY"} {
		e, ok := env[name]
		if !ok {
			t.Errorf("%s not set: the binary would fall back to its built-in path", name)
			continue
		}
		if e.Value == "" {
			continue
		}
		m, ok := mountFor(c, e.Value)
		if !ok || m.MountPath != e.Value {
			t.Errorf("%s=%s is not a file mount of its own (mount %+v)", name, e.Value, m)
			continue
		}
		if !m.ReadOnly {
			t.Errorf("the certificate file %s is mounted writable", e.Value)
		}
		v := volumes[m.Name]
		if v.HostPath == nil || deref(v.HostPath.Type) != corev1.HostPathFile || v.HostPath.Path != e.Value {
			t.Errorf("certificate volume %+v, want hostPath type File %s", v.VolumeSource, e.Value)
		}
	}
	files := map[string]bool{}
	for _, n := range []string{"ETCD_BACKUP_CACERT", "ETCD_BACKUP_CERT", "ETCD_BACKUP_KEY"} {
		if v := env[n].Value; v != "" {
			files[v] = true
		}
	}
	for _, m := range c.VolumeMounts {
		if v := volumes[m.Name]; v.HostPath != nil && deref(v.HostPath.Type) == corev1.HostPathFile {
			certMounts++
		}
	}
	if certMounts != len(files) {
		t.Errorf("%d file mounts for %d distinct certificate files", certMounts, len(files))
	}

	// Scratch: the work directory is a writable emptyDir.
	if wd := env["ETCD_BACKUP_WORK_DIR"].Value; wd != workDir {
		t.Errorf("ETCD_BACKUP_WORK_DIR=%q, want %s", wd, workDir)
	}
	if m, ok := mountFor(c, workDir); !ok || volumes[m.Name].EmptyDir == nil || m.ReadOnly {
		t.Errorf("%s is not a writable emptyDir mount", workDir)
	}

	// Security.
	sc := c.SecurityContext
	if sc == nil {
		t.Fatal("no container securityContext")
	}
	if deref(sc.RunAsUser) != 0 || !deref(sc.ReadOnlyRootFilesystem) || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || deref(sc.Privileged) {
		t.Errorf("securityContext runAsUser %v readOnlyRootFilesystem %v allowPrivilegeEscalation %v privileged %v; want 0, true, false, false",
			sc.RunAsUser, sc.ReadOnlyRootFilesystem, sc.AllowPrivilegeEscalation, sc.Privileged)
	}
	if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0 {
		t.Errorf("capabilities %+v, want all dropped and none added", sc.Capabilities)
	}
	seccomp := sc.SeccompProfile
	if seccomp == nil && pod.SecurityContext != nil {
		seccomp = pod.SecurityContext.SeccompProfile
	}
	if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("seccompProfile %+v, want RuntimeDefault", seccomp)
	}

	// Resources: bounded, and requests within limits.
	for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, hasReq := c.Resources.Requests[res]
		lim, hasLim := c.Resources.Limits[res]
		if !hasReq || !hasLim {
			t.Errorf("%s request/limit missing: %+v", res, c.Resources)
			continue
		}
		if req.Cmp(lim) > 0 {
			t.Errorf("%s request %s above limit %s", res, req.String(), lim.String())
		}
	}

	// Labels.
	for _, labels := range []map[string]string{cj.Labels, cj.Spec.JobTemplate.Spec.Template.Labels} {
		for _, k := range []string{"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version", "app.kubernetes.io/managed-by", "helm.sh/chart"} {
			if labels[k] == "" {
				t.Errorf("label %s missing in %v", k, labels)
			}
		}
	}
}

// checkBinaryAcceptsEnv feeds the rendered environment to the backup job's own
// configuration parser: whatever the schema lets through, the binary must
// accept. Certificate paths (already checked to lie in the certificate mount)
// are pointed at a generated certificate and key here, because the parser
// reads them.
func checkBinaryAcceptsEnv(t *testing.T, r *release) {
	t.Helper()
	// Only the rendered variables count: clear any the test process inherited.
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, config.Prefix+"_") {
			t.Setenv(k, "") // restores the old value after the test
			os.Unsetenv(k)
		}
	}
	dir := t.TempDir()
	certPEM, keyPEM := selfSigned(t)
	for _, e := range container(t, r).Env {
		if !strings.HasPrefix(e.Name, config.Prefix+"_") {
			continue
		}
		v := e.Value
		switch {
		case e.ValueFrom != nil:
			v = "from-secret"
		case v != "" && (e.Name == "ETCD_BACKUP_CACERT" || e.Name == "ETCD_BACKUP_CERT" || e.Name == "ETCD_BACKUP_KEY"):
			v = filepath.Join(dir, filepath.Base(v))
			content := certPEM
			if e.Name == "ETCD_BACKUP_KEY" {
				content = keyPEM
			}
			if err := os.WriteFile(v, content, 0o600); err != nil {
				t.Fatal(err)
			}
		case e.Name == "ETCD_BACKUP_BUNDLE_PATHS":
			v = bundlePathsIn(t, dir, v)
		}
		t.Setenv(e.Name, v)
	}
	if _, err := config.Load(); err != nil {
		t.Errorf("the backup job refuses the rendered configuration: %v", err)
	}
}

func TestRenderRefusesBadValues(t *testing.T) {
	cases := []struct {
		name   string
		values string
		// want is a part of the error that names what was wrong.
		want string
	}{
		{"schedule not a string", "schedule: 5", "/schedule"},
		{"schedule with four fields", `schedule: "0 17 * *"`, `schedule "0 17 * *" has 4 fields: give five fields`},
		{"schedule in words", `schedule: "every day at five"`, `schedule "every day at five" has 4 fields`},
		{"schedule with a TZ prefix", `schedule: "TZ=UTC 0 17 * * *"`, "the time zone goes in the timeZone value"},
		{"schedule hour out of range", `schedule: "0 25 * * *"`, `the hour field "25" is not accepted: give *, values 0-23`},
		{"schedule minute out of range", `schedule: "60 1 * * *"`, `the minute field "60" is not accepted: give *, values 0-59`},
		{"schedule day of month zero", `schedule: "0 1 0 * *"`, `the day-of-month field "0" is not accepted: give *, values 1-31`},
		{"schedule month 13", `schedule: "0 1 1 13 *"`, `the month field "13" is not accepted: give *, values 1-12 or JAN-DEC`},
		{"schedule weekday 7", `schedule: "0 1 * * 7"`, `the day-of-week field "7" is not accepted: give *, values 0-6 or SUN-SAT`},
		{"schedule backwards range", `schedule: "0 20-8 * * *"`, `the hour field "20-8" is not accepted`},
		{"schedule step zero", `schedule: "*/0 * * * *"`, `the minute field "*/0" is not accepted`},
		{"schedule out of range in a list", `schedule: "0 1,2,99 * * *"`, `the hour field "1,2,99" is not accepted`},
		{"schedule unknown macro", `schedule: "@fortnightly"`, `schedule "@fortnightly" is not accepted: give five fields`},
		{"time zone with spaces", `timeZone: "Asia Seoul"`, "/timeZone"},
		{"concurrency policy unknown", "concurrencyPolicy: Never", "/concurrencyPolicy"},
		{"history limit negative", "failedJobsHistoryLimit: -1", "/failedJobsHistoryLimit"},
		{"history limit a string", `successfulJobsHistoryLimit: "3"`, "/successfulJobsHistoryLimit"},
		{"suspend a string", `suspend: "yes"`, "/suspend"},
		{"backoff limit negative", "backoffLimit: -1", "/backoffLimit"},
		{"restart policy Always", "restartPolicy: Always", "/restartPolicy"},
		{"retention negative", "retention: {maxAge: -5d}", `retention.maxAge "-5d" is not accepted: give whole days such as 5d`},
		{"retention negative duration", "retention: {maxAge: -120h}", `retention.maxAge "-120h" is not accepted`},
		{"retention zero", "retention: {maxAge: 0d}", `retention.maxAge "0d" is not accepted`},
		{"retention a number", "retention: {maxAge: 5}", "/retention/maxAge"},
		{"retention in weeks", "retention: {maxAge: 2w}", `retention.maxAge "2w" is not accepted: give whole days such as 5d (1d to 99999d), or a positive Go duration such as 120h`},
		{"retention zero duration", "retention: {maxAge: 0h0m}", `retention.maxAge "0h0m" is not accepted`},
		{"keepMin negative", "retention: {keepMin: -1}", "/retention/keepMin"},
		{"keepMin zero", "retention: {keepMin: 0}", "/retention/keepMin"},
		{"keepMin a string", `retention: {keepMin: "3"}`, "/retention/keepMin"},
		{"unknown top-level key", "schedul: \"0 1 * * *\"", "additional properties 'schedul' not allowed"},
		{"unknown nested key", "pvcBackup: {sizee: 5Gi}", "additional properties 'sizee' not allowed"},
		{"a whole block set to null", "etcd: null", "missing property 'etcd'"},
		{"a required key set to null", "etcd: {certs: {caFile: null}}", "missing property 'caFile'"},
		{"dial timeout without unit", "etcd: {dialTimeout: \"5\"}", "/etcd/dialTimeout"},
		{"snapshot timeout zero", "etcd: {snapshotTimeout: 0s}", "/etcd/snapshotTimeout"},
		{"endpoint without port", "etcd: {endpoints: [https://127.0.0.1]}", "/etcd/endpoints/0"},
		{"endpoint with a path", "etcd: {endpoints: [https://127.0.0.1:2379/v3]}", "/etcd/endpoints/0"},
		{"no endpoints", "etcd: {endpoints: []}", "/etcd/endpoints"},
		{"endpoints a string", "etcd: {endpoints: https://127.0.0.1:2379}", "/etcd/endpoints"},
		{"certificate outside the directory", "etcd: {certs: {keyFile: ../../../root/key.pem}}", `etcd.certs.keyFile "../../../root/key.pem" is not accepted: give a file name in etcd.certs.hostPath such as ca.crt, or an absolute path`},
		{"certificate path with ..", "etcd: {certs: {caFile: /etc/kubernetes/../ca.crt}}", `etcd.certs.caFile "/etc/kubernetes/../ca.crt" is not accepted`},
		{"certificate file empty", `etcd: {certs: {certFile: ""}}`, "/etcd/certs/certFile"},
		{"hostNetwork a string", `hostNetwork: "true"`, "/hostNetwork"},
		{"relative certificate directory", "etcd: {certs: {hostPath: etc/kubernetes/pki}}", "/etcd/certs/hostPath"},
		{"relative backup directory", "hostPathBackup: {path: data/etcd-backup}", "/hostPathBackup/path"},
		{"backup directory is root", "hostPathBackup: {path: /}", "/hostPathBackup/path"},
		{"backup directory with ..", "hostPathBackup: {path: /data/../etc}", "/hostPathBackup/path"},
		{"name prefix with a slash", "namePrefix: backups/etcd-", "/namePrefix"},
		{"log level unknown", "logLevel: verbose", "/logLevel"},
		{"log format unknown", "logFormat: yaml", "/logFormat"},
		{"nice below 0", "gentle: {nice: -5}", "/gentle/nice"},
		{"nice above 19", "gentle: {nice: 20}", "/gentle/nice"},
		{"I/O priority realtime", "gentle: {ioPriority: realtime}", "/gentle/ioPriority"},
		{"rate limit a number", "gentle: {rateLimit: 50}", "/gentle/rateLimit"},
		{"rate limit without a size", "gentle: {rateLimit: fast}", "/gentle/rateLimit"},
		{"dryRun a string", `dryRun: "false"`, "/dryRun"},
		{"pvc size without number", "pvcBackup: {size: big}", "/pvcBackup/size"},
		{"pvc read-only access", "pvcBackup: {accessModes: [ReadOnlyMany]}", "/pvcBackup/accessModes"},
		{"object storage http URL", "objectStorage: {enabled: true, url: \"https://s3.amazonaws.com/bucket\"}", `objectStorage.url "https://s3.amazonaws.com/bucket" is not accepted: give s3://bucket`},
		{"object storage URL with credentials", "objectStorage: {enabled: true, url: \"s3://AKIA:secret@bucket\"}", "without credentials"},
		{"object storage on without URL", "objectStorage: {enabled: true}", "objectStorage.url is empty"},
		{"extra destination relative", "extraDestinations: [backup/nfs]", `extraDestinations[0] "backup/nfs" is not accepted: give an absolute path`},
		{"image tag with a colon", "image: {tag: \"1.0:x\"}", "/image/tag"},
		{"image digest malformed", "image: {digest: sha256:abc}", "/image/digest"},
		{"nodeSelector value a bool", "nodeSelector: {disk: true}", "/nodeSelector/disk"},
		{"resources with unknown key", "resources: {limit: {cpu: 1}}", "additional properties 'limit' not allowed"},
		{
			"no destination",
			"hostPathBackup: {enabled: false}\npvcBackup: {enabled: false}",
			"no backup destination is enabled",
		},
		{
			"plain-HTTP endpoint with certificates",
			"etcd: {endpoints: [http://127.0.0.1:2379]}",
			"plain-HTTP endpoint \"http://127.0.0.1:2379\" while etcd.certs.enabled is true",
		},
		{
			"mixed endpoint schemes",
			"etcd: {endpoints: [http://10.0.0.1:2379, https://10.0.0.2:2379], certs: {enabled: false}}",
			"mixes http:// and https://",
		},
		{
			"destination listed twice",
			"extraDestinations: [/backup/host]",
			"\"/backup/host\" is listed twice",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := render(t, tc.values)
			if err == nil {
				t.Fatalf("values accepted, want them refused:\n%s", tc.values)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error does not name %q:\n%v", tc.want, err)
			}
			t.Logf("refused: %v", err)
		})
	}
}

func TestKubeVersionBelowTimeZoneSupportRefused(t *testing.T) {
	if _, err := render(t, "", withKubeVersion("v1.26.5")); err == nil || !strings.Contains(err.Error(), "kubeVersion") {
		t.Errorf("Kubernetes 1.26 (no GA CronJob timeZone) accepted or refused for another reason: %v", err)
	}
	if _, err := render(t, "", withKubeVersion("v1.27.0")); err != nil {
		t.Errorf("Kubernetes 1.27 refused: %v", err)
	}
}

func TestLongReleaseNameFitsNameLimits(t *testing.T) {
	name := "a-very-long-release-name-for-the-cluster-backup-of-production"
	r, err := render(t, "", withReleaseName(name))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(r.CronJob.Name); n > 52 {
		t.Errorf("CronJob name %q has %d characters; Job names get an 11-character suffix and must stay within 63", r.CronJob.Name, n)
	}
	// The ad-hoc Job name in NOTES.txt: <name>-<10-digit timestamp> must fit 63 characters.
	_, after, ok := strings.Cut(r.Notes, "kubectl create job --from=cronjob/"+r.CronJob.Name+" ")
	if !ok {
		t.Fatalf("NOTES.txt has no ad-hoc run command for %s:\n%s", r.CronJob.Name, r.Notes)
	}
	jobName, _, _ := strings.Cut(after, " ")
	jobName = strings.Replace(jobName, "$(date +%s)", "1763917200", 1)
	if len(jobName) > 63 {
		t.Errorf("ad-hoc Job name %q has %d characters, more than 63", jobName, len(jobName))
	}
}

func TestLint(t *testing.T) {
	kv, err := chartutil.ParseKubeVersion(kubeVersion)
	if err != nil {
		t.Fatal(err)
	}
	for _, vals := range []map[string]any{
		nil,
		{"objectStorage": map[string]any{"enabled": true, "url": "azblob://etcd/prod", "existingSecret": "azure", "serviceAccount": map[string]any{"create": true, "name": "", "annotations": map[string]any{}}}},
	} {
		linter := lint.AllWithKubeVersion(chartDir, vals, namespace, kv)
		for _, m := range linter.Messages {
			if m.Severity >= support.WarningSev {
				t.Errorf("helm lint: %s", m)
			} else {
				t.Logf("helm lint: %s", m)
			}
		}
	}
}

func TestAppVersionMatchesVersionFile(t *testing.T) {
	v, err := os.ReadFile("../../VERSION")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := appVersion(t), strings.TrimSpace(string(v)); got != want {
		t.Errorf("Chart.yaml appVersion %q, VERSION file %q: the image tag follows appVersion", got, want)
	}
}

func appVersion(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		AppVersion string `json:"appVersion"`
	}
	if err := yaml.Unmarshal(raw, &meta); err != nil {
		t.Fatal(err)
	}
	return meta.AppVersion
}

func podSpec(r *release) *corev1.PodSpec { return &r.CronJob.Spec.JobTemplate.Spec.Template.Spec }

func container(t *testing.T, r *release) *corev1.Container {
	t.Helper()
	cs := podSpec(r).Containers
	if len(cs) != 1 {
		t.Fatalf("%d containers, want 1", len(cs))
	}
	return &cs[0]
}

func envVar(t *testing.T, r *release, name string) corev1.EnvVar {
	t.Helper()
	var found *corev1.EnvVar
	for i, e := range container(t, r).Env {
		if e.Name == name {
			found = &container(t, r).Env[i] // the last one wins, as in the kubelet
		}
	}
	if found == nil {
		t.Fatalf("env %s not set", name)
	}
	return *found
}

func wantEnv(t *testing.T, r *release, want map[string]string) {
	t.Helper()
	for name, v := range want {
		e := envVar(t, r, name)
		if e.ValueFrom != nil || e.Value != v {
			t.Errorf("%s = %q (valueFrom %v), want %q", name, e.Value, e.ValueFrom, v)
		}
	}
}

func volume(t *testing.T, pod *corev1.PodSpec, name string) corev1.Volume {
	t.Helper()
	for _, v := range pod.Volumes {
		if v.Name == name {
			return v
		}
	}
	t.Fatalf("no volume %q", name)
	return corev1.Volume{}
}

func hasVolume(pod *corev1.PodSpec, name string) bool {
	for _, v := range pod.Volumes {
		if v.Name == name {
			return true
		}
	}
	return false
}

func mountNamed(c *corev1.Container, name string) (corev1.VolumeMount, bool) {
	for _, m := range c.VolumeMounts {
		if m.Name == name {
			return m, true
		}
	}
	return corev1.VolumeMount{}, false
}

// mountFor is the mount that holds path: the deepest mount path that is path
// or one of its parents.
func mountFor(c *corev1.Container, p string) (corev1.VolumeMount, bool) {
	var best corev1.VolumeMount
	found := false
	p = filepath.Clean(p)
	for _, m := range c.VolumeMounts {
		mp := filepath.Clean(m.MountPath)
		if (p == mp || strings.HasPrefix(p, mp+"/")) && (!found || len(mp) > len(best.MountPath)) {
			best, found = m, true
		}
	}
	return best, found
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// selfSigned is a certificate and its key, PEM: the job reads the TLS files
// it is given.
func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "chart test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}
