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
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
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

// renderCase is one set of values that must install, with what must be true
// of the result beyond the checks every render gets.
type renderCase struct {
	name   string
	values string
	// golden names testdata/<golden>.golden.yaml; empty means no golden file.
	golden string
	check  func(t *testing.T, r *release)
}

func TestRender(t *testing.T) {
	cases := []renderCase{
		{
			name:   "defaults",
			golden: "defaults",
			check: func(t *testing.T, r *release) {
				cj := r.CronJob
				spec := &cj.Spec
				if spec.Schedule != "0 17 * * *" || deref(spec.TimeZone) != "Asia/Seoul" {
					t.Errorf("schedule %q in %q, want \"0 17 * * *\" in Asia/Seoul", spec.Schedule, deref(spec.TimeZone))
				}
				if spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
					t.Errorf("concurrencyPolicy %q, want Forbid", spec.ConcurrencyPolicy)
				}
				if deref(spec.SuccessfulJobsHistoryLimit) != 3 || deref(spec.FailedJobsHistoryLimit) != 1 {
					t.Errorf("history limits %d/%d, want 3/1", deref(spec.SuccessfulJobsHistoryLimit), deref(spec.FailedJobsHistoryLimit))
				}
				if deref(spec.Suspend) {
					t.Error("suspended by default")
				}
				job := spec.JobTemplate.Spec
				if deref(job.BackoffLimit) != 2 || deref(job.ActiveDeadlineSeconds) != 3600 || job.TTLSecondsAfterFinished != nil {
					t.Errorf("job backoffLimit %d, activeDeadlineSeconds %d, ttl %v; want 2, 3600, unset",
						deref(job.BackoffLimit), deref(job.ActiveDeadlineSeconds), job.TTLSecondsAfterFinished)
				}
				wantEnv(t, r, map[string]string{
					"ETCD_BACKUP_ENDPOINTS":        "https://127.0.0.1:2379",
					"ETCD_BACKUP_CACERT":           certMount + "/ca.crt",
					"ETCD_BACKUP_CERT":             certMount + "/server.crt",
					"ETCD_BACKUP_KEY":              certMount + "/server.key",
					"ETCD_BACKUP_DESTINATIONS":     hostMount + "," + pvcMount,
					"ETCD_BACKUP_RETENTION":        "5d",
					"ETCD_BACKUP_KEEP_MIN":         "3",
					"ETCD_BACKUP_NAME_PREFIX":      "etcd-snapshot-",
					"ETCD_BACKUP_DRY_RUN":          "false",
					"ETCD_BACKUP_LOG_FORMAT":       "json",
					"ETCD_BACKUP_LOG_LEVEL":        "info",
					"ETCD_BACKUP_DIAL_TIMEOUT":     "5s",
					"ETCD_BACKUP_SNAPSHOT_TIMEOUT": "30m",
					"ETCD_BACKUP_WORK_DIR":         workDir,
				})
				pod := podSpec(r)
				if v := volume(t, pod, "backup-host"); v.HostPath == nil || v.HostPath.Path != "/data/etcd-backup" || deref(v.HostPath.Type) != corev1.HostPathDirectoryOrCreate {
					t.Errorf("host backup volume %+v, want hostPath /data/etcd-backup DirectoryOrCreate", v.VolumeSource)
				}
				if v := volume(t, pod, "backup-pvc"); v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != releaseName {
					t.Errorf("PVC volume %+v, want claim %s", v.VolumeSource, releaseName)
				}
				if r.PVC == nil {
					t.Fatal("no PersistentVolumeClaim rendered")
				}
				if r.PVC.Name != releaseName || r.PVC.Namespace != namespace {
					t.Errorf("PVC %s/%s, want %s/%s", r.PVC.Namespace, r.PVC.Name, namespace, releaseName)
				}
				if got := r.PVC.Spec.Resources.Requests[corev1.ResourceStorage]; got.Cmp(resource.MustParse("10Gi")) != 0 {
					t.Errorf("PVC size %s, want 10Gi", got.String())
				}
				if !slices.Equal(r.PVC.Spec.AccessModes, []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}) || r.PVC.Spec.StorageClassName != nil {
					t.Errorf("PVC access modes %v, storage class %v; want [ReadWriteOnce], cluster default", r.PVC.Spec.AccessModes, r.PVC.Spec.StorageClassName)
				}
				if r.PVC.Annotations["helm.sh/resource-policy"] != "keep" {
					t.Error("the PVC holding backups is not kept on uninstall")
				}
				if r.ServiceAccount != nil || pod.ServiceAccountName != "" {
					t.Errorf("ServiceAccount %v / serviceAccountName %q rendered without objectStorage.serviceAccount.create", r.ServiceAccount, pod.ServiceAccountName)
				}
				c := container(t, r)
				if c.Image != imageRepo+":"+appVersion(t) {
					t.Errorf("image %q, want %s:%s", c.Image, imageRepo, appVersion(t))
				}
				if len(c.Command) != 0 || len(c.Args) != 0 {
					t.Errorf("command %q args %q: the image's entrypoint needs none", c.Command, c.Args)
				}
				if len(c.EnvFrom) != 0 {
					t.Errorf("envFrom %+v without object storage", c.EnvFrom)
				}
				if c.TerminationMessagePolicy != corev1.TerminationMessageFallbackToLogsOnError {
					t.Errorf("terminationMessagePolicy %q, want FallbackToLogsOnError", c.TerminationMessagePolicy)
				}
				if pod.Affinity != nil {
					t.Errorf("affinity %+v without affinity or preferredNodes", pod.Affinity)
				}
				if v := volume(t, pod, "scratch"); v.EmptyDir == nil || v.EmptyDir.SizeLimit == nil || v.EmptyDir.SizeLimit.Cmp(resource.MustParse("10Gi")) != 0 {
					t.Errorf("scratch volume %+v, want an emptyDir limited to 10Gi", v.VolumeSource)
				}
				policy := cj.Spec.JobTemplate.Spec.PodFailurePolicy
				if policy == nil || len(policy.Rules) == 0 || policy.Rules[0].Action != batchv1.PodFailurePolicyActionFailJob ||
					policy.Rules[0].OnExitCodes == nil || !slices.Equal(policy.Rules[0].OnExitCodes.Values, []int32{2}) ||
					deref(policy.Rules[0].OnExitCodes.ContainerName) != c.Name {
					t.Errorf("podFailurePolicy %+v: exit status 2 (bad configuration) must fail the Job at once", policy)
				}
				for _, want := range []string{
					"kubectl create job --from=cronjob/etcd-backup etcd-backup-manual-$(date +%s) -n kube-system",
					"/data/etcd-backup on the control-plane node",
					"PersistentVolumeClaim kube-system/etcd-backup",
				} {
					if !strings.Contains(r.Notes, want) {
						t.Errorf("NOTES.txt lacks %q:\n%s", want, r.Notes)
					}
				}
			},
		},
		{
			name:   "pvc off",
			values: "pvcBackup: {enabled: false}",
			check: func(t *testing.T, r *release) {
				if r.PVC != nil {
					t.Error("PersistentVolumeClaim rendered with pvcBackup.enabled=false")
				}
				if hasVolume(podSpec(r), "backup-pvc") {
					t.Error("PVC volume rendered with pvcBackup.enabled=false")
				}
				wantEnv(t, r, map[string]string{"ETCD_BACKUP_DESTINATIONS": hostMount})
				if strings.Contains(r.Notes, "PersistentVolumeClaim") {
					t.Errorf("NOTES.txt names a PVC that is off:\n%s", r.Notes)
				}
			},
		},
		{
			name:   "existing claim",
			golden: "existing-claim",
			values: "pvcBackup: {existingClaim: etcd-snapshots, size: 50Gi}\nhostPathBackup: {path: /var/backups/etcd}",
			check: func(t *testing.T, r *release) {
				if r.PVC != nil {
					t.Error("PersistentVolumeClaim rendered although existingClaim is set")
				}
				pod := podSpec(r)
				if v := volume(t, pod, "backup-pvc"); v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ClaimName != "etcd-snapshots" {
					t.Errorf("PVC volume %+v, want claim etcd-snapshots", v.VolumeSource)
				}
				if v := volume(t, pod, "backup-host"); v.HostPath == nil || v.HostPath.Path != "/var/backups/etcd" {
					t.Errorf("host backup volume %+v, want /var/backups/etcd", v.VolumeSource)
				}
				wantEnv(t, r, map[string]string{"ETCD_BACKUP_DESTINATIONS": hostMount + "," + pvcMount})
				if !strings.Contains(r.Notes, "PersistentVolumeClaim kube-system/etcd-snapshots") {
					t.Errorf("NOTES.txt does not name the existing claim:\n%s", r.Notes)
				}
			},
		},
		{
			name:   "object storage with a secret and workload identity",
			golden: "object-storage",
			values: `
objectStorage:
  enabled: true
  url: s3://etcd-backups/cluster-a?region=eu-west-1
  existingSecret: etcd-backup-s3
  serviceAccount:
    create: true
    annotations:
      eks.amazonaws.com/role-arn: arn:aws:iam::123456789012:role/etcd-backup
`,
			check: func(t *testing.T, r *release) {
				wantEnv(t, r, map[string]string{
					"ETCD_BACKUP_DESTINATIONS": hostMount + "," + pvcMount + ",s3://etcd-backups/cluster-a?region=eu-west-1",
				})
				c := container(t, r)
				if len(c.EnvFrom) != 1 || c.EnvFrom[0].SecretRef == nil || c.EnvFrom[0].SecretRef.Name != "etcd-backup-s3" {
					t.Errorf("envFrom %+v, want the secret etcd-backup-s3", c.EnvFrom)
				}
				sa := r.ServiceAccount
				if sa == nil {
					t.Fatal("no ServiceAccount rendered with objectStorage.serviceAccount.create")
				}
				if sa.Name != releaseName || sa.Namespace != namespace || sa.Annotations["eks.amazonaws.com/role-arn"] != "arn:aws:iam::123456789012:role/etcd-backup" {
					t.Errorf("ServiceAccount %s/%s annotations %v, want %s/%s with the IRSA role", sa.Namespace, sa.Name, sa.Annotations, namespace, releaseName)
				}
				if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
					t.Error("ServiceAccount mounts an API token the job does not need")
				}
				if podSpec(r).ServiceAccountName != sa.Name {
					t.Errorf("pod runs as %q, want the created ServiceAccount %q", podSpec(r).ServiceAccountName, sa.Name)
				}
				if !strings.Contains(r.Notes, "s3://etcd-backups/cluster-a (credentials from Secret etcd-backup-s3)") {
					t.Errorf("NOTES.txt does not name the bucket without its query:\n%s", r.Notes)
				}
			},
		},
		{
			name: "object storage only, existing service account",
			values: `
hostPathBackup: {enabled: false}
pvcBackup: {enabled: false}
objectStorage:
  enabled: true
  url: gs://etcd-backups/prod
  serviceAccount: {name: etcd-backup-gcs}
scratch: {sizeLimit: 4Gi}
`,
			check: func(t *testing.T, r *release) {
				wantEnv(t, r, map[string]string{"ETCD_BACKUP_DESTINATIONS": "gs://etcd-backups/prod"})
				pod := podSpec(r)
				if hasVolume(pod, "backup-host") || hasVolume(pod, "backup-pvc") || r.PVC != nil {
					t.Error("local backup volumes rendered while both are off")
				}
				if r.ServiceAccount != nil || pod.ServiceAccountName != "etcd-backup-gcs" {
					t.Errorf("ServiceAccount %v, serviceAccountName %q; want none created and etcd-backup-gcs used", r.ServiceAccount, pod.ServiceAccountName)
				}
				if len(container(t, r).EnvFrom) != 0 {
					t.Error("envFrom rendered without objectStorage.existingSecret")
				}
				if v := volume(t, pod, "scratch"); v.EmptyDir == nil || v.EmptyDir.SizeLimit == nil || v.EmptyDir.SizeLimit.Cmp(resource.MustParse("4Gi")) != 0 {
					t.Errorf("scratch volume %+v, want an emptyDir of 4Gi", v.VolumeSource)
				}
			},
		},
		{
			name:   "preferred nodes merged with affinity",
			golden: "preferred-nodes",
			values: `
preferredNodes: [master-1, master-2]
affinity:
  nodeAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 10
        preference:
          matchExpressions:
            - {key: topology.kubernetes.io/zone, operator: In, values: [zone-a]}
`,
			check: func(t *testing.T, r *release) {
				aff := podSpec(r).Affinity
				if aff == nil || aff.NodeAffinity == nil {
					t.Fatal("no node affinity rendered for preferredNodes")
				}
				terms := aff.NodeAffinity.PreferredDuringSchedulingIgnoredDuringExecution
				if len(terms) != 2 {
					t.Fatalf("%d preferred terms, want the given one plus the preferredNodes one: %+v", len(terms), terms)
				}
				if terms[0].Weight != 10 || terms[0].Preference.MatchExpressions[0].Key != "topology.kubernetes.io/zone" {
					t.Errorf("the affinity value's own term was changed: %+v", terms[0])
				}
				got := terms[1]
				want := corev1.NodeSelectorRequirement{Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpIn, Values: []string{"master-1", "master-2"}}
				if got.Weight != 100 || len(got.Preference.MatchExpressions) != 1 ||
					got.Preference.MatchExpressions[0].Key != want.Key || got.Preference.MatchExpressions[0].Operator != want.Operator ||
					!slices.Equal(got.Preference.MatchExpressions[0].Values, want.Values) {
					t.Errorf("preferredNodes term %+v, want weight 100 with %+v", got, want)
				}
				if aff.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
					t.Error("preferredNodes made a required rule")
				}
			},
		},
		{
			name: "custom schedule, time zone and retention",
			values: `
schedule: "30 2 * * 0"
timeZone: Europe/Berlin
retention: {maxAge: 336h, keepMin: 7}
namePrefix: prod-etcd-
dryRun: true
logFormat: text
logLevel: debug
etcd: {dialTimeout: 10s, snapshotTimeout: 1h}
startingDeadlineSeconds: null
activeDeadlineSeconds: 7200
ttlSecondsAfterFinished: 86400
suspend: true
`,
			check: func(t *testing.T, r *release) {
				spec := r.CronJob.Spec
				if spec.Schedule != "30 2 * * 0" || deref(spec.TimeZone) != "Europe/Berlin" || !deref(spec.Suspend) || spec.StartingDeadlineSeconds != nil {
					t.Errorf("schedule %q tz %q suspend %v startingDeadline %v", spec.Schedule, deref(spec.TimeZone), deref(spec.Suspend), spec.StartingDeadlineSeconds)
				}
				job := spec.JobTemplate.Spec
				if deref(job.ActiveDeadlineSeconds) != 7200 || deref(job.TTLSecondsAfterFinished) != 86400 {
					t.Errorf("activeDeadlineSeconds %d ttl %d, want 7200 and 86400", deref(job.ActiveDeadlineSeconds), deref(job.TTLSecondsAfterFinished))
				}
				wantEnv(t, r, map[string]string{
					"ETCD_BACKUP_RETENTION":        "336h",
					"ETCD_BACKUP_KEEP_MIN":         "7",
					"ETCD_BACKUP_NAME_PREFIX":      "prod-etcd-",
					"ETCD_BACKUP_DRY_RUN":          "true",
					"ETCD_BACKUP_LOG_FORMAT":       "text",
					"ETCD_BACKUP_LOG_LEVEL":        "debug",
					"ETCD_BACKUP_DIAL_TIMEOUT":     "10s",
					"ETCD_BACKUP_SNAPSHOT_TIMEOUT": "1h",
				})
				if !strings.Contains(r.Notes, "SUSPENDED") || !strings.Contains(r.Notes, "dryRun=true") {
					t.Errorf("NOTES.txt does not warn about suspend and dryRun:\n%s", r.Notes)
				}
			},
		},
		{
			name:   "no time zone",
			values: `timeZone: ""`,
			check: func(t *testing.T, r *release) {
				if r.CronJob.Spec.TimeZone != nil {
					t.Errorf("timeZone %q rendered from an empty value", *r.CronJob.Spec.TimeZone)
				}
			},
		},
		{
			name: "healthcheck client certificate in another directory, etcd auth, several endpoints",
			values: `
etcd:
  endpoints: [https://10.0.0.11:2379, "https://[fd00::12]:2379"]
  certs: {hostPath: /etc/etcd/pki, certFile: healthcheck-client.crt, keyFile: healthcheck-client.key}
  auth: {existingSecret: etcd-root, usernameKey: user, passwordKey: pass}
`,
			check: func(t *testing.T, r *release) {
				wantEnv(t, r, map[string]string{
					"ETCD_BACKUP_ENDPOINTS": "https://10.0.0.11:2379,https://[fd00::12]:2379",
					"ETCD_BACKUP_CACERT":    "/etc/etcd/pki/ca.crt",
					"ETCD_BACKUP_CERT":      "/etc/etcd/pki/healthcheck-client.crt",
					"ETCD_BACKUP_KEY":       "/etc/etcd/pki/healthcheck-client.key",
				})
				for name, key := range map[string]string{"ETCD_BACKUP_USERNAME": "user", "ETCD_BACKUP_PASSWORD": "pass"} {
					e := envVar(t, r, name)
					if e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil ||
						e.ValueFrom.SecretKeyRef.Name != "etcd-root" || e.ValueFrom.SecretKeyRef.Key != key {
						t.Errorf("%s = %+v, want secret etcd-root key %s", name, e, key)
					}
				}
			},
		},
		{
			name:   "no client certificates for a plain-HTTP etcd",
			values: "etcd: {endpoints: [http://127.0.0.1:2379], certs: {enabled: false}}",
			check: func(t *testing.T, r *release) {
				wantEnv(t, r, map[string]string{"ETCD_BACKUP_CACERT": "", "ETCD_BACKUP_CERT": "", "ETCD_BACKUP_KEY": ""})
				if hasVolume(podSpec(r), "etcd-certs") {
					t.Error("certificate directory mounted with etcd.certs.enabled=false")
				}
			},
		},
		{
			name:   "restartPolicy OnFailure",
			values: "restartPolicy: OnFailure",
			check: func(t *testing.T, r *release) {
				if podSpec(r).RestartPolicy != corev1.RestartPolicyOnFailure {
					t.Errorf("restartPolicy %q", podSpec(r).RestartPolicy)
				}
				if r.CronJob.Spec.JobTemplate.Spec.PodFailurePolicy != nil {
					t.Error("podFailurePolicy rendered with restartPolicy OnFailure; the API server refuses that")
				}
			},
		},
		{
			name: "extra volume as another destination",
			values: `
extraVolumes:
  - name: nfs
    nfs: {server: nfs.example.org, path: /exports/etcd}
extraVolumeMounts:
  - {name: nfs, mountPath: /backup/nfs}
extraDestinations: [/backup/nfs, "azblob://etcd/cluster-a"]
extraEnv:
  - {name: AZURE_STORAGE_ACCOUNT, value: backups}
pvcBackup: {storageClass: "-", accessModes: [ReadWriteOncePod], annotations: {team: platform}, keepOnUninstall: false}
`,
			check: func(t *testing.T, r *release) {
				wantEnv(t, r, map[string]string{
					"ETCD_BACKUP_DESTINATIONS": hostMount + "," + pvcMount + ",/backup/nfs,azblob://etcd/cluster-a",
					"AZURE_STORAGE_ACCOUNT":    "backups",
				})
				if r.PVC == nil || r.PVC.Spec.StorageClassName == nil || *r.PVC.Spec.StorageClassName != "" {
					t.Errorf("storageClass \"-\" must render storageClassName \"\": %+v", r.PVC)
				}
				if _, kept := r.PVC.Annotations["helm.sh/resource-policy"]; kept || r.PVC.Annotations["team"] != "platform" {
					t.Errorf("PVC annotations %v, want team=platform and no keep policy", r.PVC.Annotations)
				}
			},
		},
		{
			name:   "image digest and pull secrets",
			values: "image: {digest: \"sha256:" + strings.Repeat("ab", 32) + "\", pullPolicy: Always}\nimagePullSecrets: [{name: regcred}]",
			check: func(t *testing.T, r *release) {
				c := container(t, r)
				if c.Image != imageRepo+"@sha256:"+strings.Repeat("ab", 32) || c.ImagePullPolicy != corev1.PullAlways {
					t.Errorf("image %q %q, want the digest and Always", c.Image, c.ImagePullPolicy)
				}
				if ps := podSpec(r).ImagePullSecrets; len(ps) != 1 || ps[0].Name != "regcred" {
					t.Errorf("imagePullSecrets %+v", ps)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := render(t, tc.values)
			if err != nil {
				t.Fatalf("render refused values:\n%s\nerror: %v", tc.values, err)
			}
			if r.CronJob == nil {
				t.Fatal("no CronJob rendered")
			}
			checkEveryRender(t, r)
			checkBinaryAcceptsEnv(t, r)
			if tc.check != nil {
				tc.check(t, r)
			}
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
	if !pod.HostNetwork || pod.DNSPolicy != corev1.DNSClusterFirstWithHostNet {
		t.Errorf("hostNetwork %v dnsPolicy %q, want true and ClusterFirstWithHostNet", pod.HostNetwork, pod.DNSPolicy)
	}
	if v, ok := pod.NodeSelector[controlRole]; !ok || v != "" {
		t.Errorf("nodeSelector %v, want %s: \"\"", pod.NodeSelector, controlRole)
	}
	tolerated := false
	for _, tol := range pod.Tolerations {
		if tol.Key == controlRole && tol.Operator == corev1.TolerationOpExists && tol.Effect == corev1.TaintEffectNoSchedule {
			tolerated = true
		}
	}
	if !tolerated {
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

	// Certificates: when set, each file lies directly in the read-only
	// certificate mount, whose volume is the host directory.
	certs, certsMounted := mountNamed(c, "etcd-certs")
	for _, name := range []string{"ETCD_BACKUP_CACERT", "ETCD_BACKUP_CERT", "ETCD_BACKUP_KEY"} {
		e, ok := env[name]
		if !ok {
			t.Errorf("%s not set: the binary would fall back to its built-in path", name)
			continue
		}
		if e.Value == "" {
			continue
		}
		if !certsMounted {
			t.Errorf("%s=%s but no certificate directory is mounted", name, e.Value)
			continue
		}
		if filepath.Dir(e.Value) != filepath.Clean(certs.MountPath) {
			t.Errorf("%s=%s is not a file in the certificate mount %s", name, e.Value, certs.MountPath)
		}
	}
	if certsMounted {
		if !certs.ReadOnly {
			t.Error("the etcd certificate directory is mounted writable")
		}
		v := volumes["etcd-certs"]
		if v.HostPath == nil || deref(v.HostPath.Type) != corev1.HostPathDirectory || v.HostPath.Path != certs.MountPath {
			t.Errorf("certificate volume %+v, want hostPath type Directory mounted at the same path %s", v.VolumeSource, certs.MountPath)
		}
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
		{"schedule with four fields", `schedule: "0 17 * *"`, "/schedule"},
		{"schedule in words", `schedule: "every day at five"`, "/schedule"},
		{"schedule with a TZ prefix", `schedule: "TZ=UTC 0 17 * * *"`, "/schedule"},
		{"time zone with spaces", `timeZone: "Asia Seoul"`, "/timeZone"},
		{"concurrency policy unknown", "concurrencyPolicy: Never", "/concurrencyPolicy"},
		{"history limit negative", "failedJobsHistoryLimit: -1", "/failedJobsHistoryLimit"},
		{"history limit a string", `successfulJobsHistoryLimit: "3"`, "/successfulJobsHistoryLimit"},
		{"suspend a string", `suspend: "yes"`, "/suspend"},
		{"backoff limit negative", "backoffLimit: -1", "/backoffLimit"},
		{"restart policy Always", "restartPolicy: Always", "/restartPolicy"},
		{"retention negative", "retention: {maxAge: -5d}", "/retention/maxAge"},
		{"retention negative duration", "retention: {maxAge: -120h}", "/retention/maxAge"},
		{"retention zero", "retention: {maxAge: 0d}", "/retention/maxAge"},
		{"retention a number", "retention: {maxAge: 5}", "/retention/maxAge"},
		{"retention in weeks", "retention: {maxAge: 2w}", "/retention/maxAge"},
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
		{"certificate outside the directory", "etcd: {certs: {keyFile: ../../../root/key.pem}}", "/etcd/certs/keyFile"},
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
		{"object storage http URL", "objectStorage: {enabled: true, url: \"https://s3.amazonaws.com/bucket\"}", "/objectStorage/url"},
		{"object storage URL with credentials", "objectStorage: {enabled: true, url: \"s3://AKIA:secret@bucket\"}", "/objectStorage/url"},
		{"object storage on without URL", "objectStorage: {enabled: true}", "/objectStorage/url"},
		{"extra destination relative", "extraDestinations: [backup/nfs]", "/extraDestinations/0"},
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
