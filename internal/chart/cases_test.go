package chart

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// The render cases: each is a values file that must install (testdata/values/
// or the chart's examples/), grouped by concern, with what must hold of the
// result beyond what every render gets (checkEveryRender and
// checkBinaryAcceptsEnv). A new values file needs a case here:
// TestEveryValuesFileHasACase fails otherwise.

var defaultCases = []valuesCase{
	{
		file:   valuesFile("defaults"),
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
			wantPlacement(t, r, "", true, controlRole)
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
				"only the\n\"privileged\" Pod Security level allows",
				"UnexpectedJob",
			} {
				if !strings.Contains(r.Notes, want) {
					t.Errorf("NOTES.txt lacks %q:\n%s", want, r.Notes)
				}
			}
		},
	},
}

var destinationCases = []valuesCase{
	{
		file: valuesFile("pvc-off"),
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
		file:   valuesFile("existing-claim"),
		golden: "existing-claim",
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
		file:   valuesFile("object-storage"),
		golden: "object-storage",
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
		file: valuesFile("object-storage-only"),
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
		file: valuesFile("extra-volume-destination"),
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
}

var scheduleCases = []valuesCase{
	{
		file: valuesFile("custom-schedule"),
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
		file: valuesFile("no-time-zone"),
		check: func(t *testing.T, r *release) {
			if r.CronJob.Spec.TimeZone != nil {
				t.Errorf("timeZone %q rendered from an empty value", *r.CronJob.Spec.TimeZone)
			}
		},
	},
}

var etcdConnectionCases = []valuesCase{
	{
		file: valuesFile("healthcheck-client-auth"),
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
		file: valuesFile("plain-http"),
		check: func(t *testing.T, r *release) {
			wantEnv(t, r, map[string]string{"ETCD_BACKUP_CACERT": "", "ETCD_BACKUP_CERT": "", "ETCD_BACKUP_KEY": ""})
			if hasVolume(podSpec(r), "etcd-certs") {
				t.Error("certificate directory mounted with etcd.certs.enabled=false")
			}
		},
	},
	{
		file: valuesFile("certs-in-two-directories"),
		check: func(t *testing.T, r *release) {
			wantEnv(t, r, map[string]string{
				"ETCD_BACKUP_CACERT": certMount + "/ca.crt",
				"ETCD_BACKUP_CERT":   "/etc/kubernetes/pki/apiserver-etcd-client.crt",
				"ETCD_BACKUP_KEY":    "/etc/kubernetes/pki/apiserver-etcd-client.key",
			})
			// Only the three files: /etc/kubernetes/pki also holds the cluster CA's key.
			for _, v := range podSpec(r).Volumes {
				if v.HostPath != nil && (v.HostPath.Path == "/etc/kubernetes/pki" || v.HostPath.Path == certMount) {
					t.Errorf("volume %s mounts the directory %s, not a file", v.Name, v.HostPath.Path)
				}
			}
		},
	},
	{
		file: valuesFile("pod-network"),
		check: func(t *testing.T, r *release) {
			pod := podSpec(r)
			if pod.HostNetwork || pod.DNSPolicy != "" {
				t.Errorf("hostNetwork %v dnsPolicy %q with hostNetwork=false, want false and the default", pod.HostNetwork, pod.DNSPolicy)
			}
			if strings.Contains(r.Notes, "host's network") {
				t.Errorf("NOTES.txt speaks of the host's network with hostNetwork=false:\n%s", r.Notes)
			}
		},
	},
}

// presetCases are the documented layouts besides kubeadm's (the defaults).
var presetCases = []valuesCase{
	{
		file:   exampleFile("k3s"),
		golden: "preset-k3s",
		check: func(t *testing.T, r *release) {
			wantEnv(t, r, map[string]string{
				"ETCD_BACKUP_ENDPOINTS": "https://127.0.0.1:2379",
				"ETCD_BACKUP_CACERT":    "/var/lib/rancher/k3s/server/tls/etcd/server-ca.crt",
				"ETCD_BACKUP_CERT":      "/var/lib/rancher/k3s/server/tls/etcd/client.crt",
				"ETCD_BACKUP_KEY":       "/var/lib/rancher/k3s/server/tls/etcd/client.key",
			})
			wantPlacement(t, r, "true", true, "node-role.kubernetes.io/control-plane", "CriticalAddonsOnly")
		},
	},
	{
		file:   exampleFile("rke2"),
		golden: "preset-rke2",
		check: func(t *testing.T, r *release) {
			wantEnv(t, r, map[string]string{
				"ETCD_BACKUP_ENDPOINTS": "https://127.0.0.1:2379",
				"ETCD_BACKUP_CACERT":    "/var/lib/rancher/rke2/server/tls/etcd/server-ca.crt",
				"ETCD_BACKUP_CERT":      "/var/lib/rancher/rke2/server/tls/etcd/client.crt",
				"ETCD_BACKUP_KEY":       "/var/lib/rancher/rke2/server/tls/etcd/client.key",
			})
			wantPlacement(t, r, "true", true, "node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/etcd", "CriticalAddonsOnly")
		},
	},
	{
		file:   exampleFile("external-etcd"),
		golden: "preset-external-etcd",
		check: func(t *testing.T, r *release) {
			wantEnv(t, r, map[string]string{
				"ETCD_BACKUP_ENDPOINTS": "https://etcd-1.example.internal:2379,https://etcd-2.example.internal:2379,https://etcd-3.example.internal:2379",
				"ETCD_BACKUP_CACERT":    "/etc/kubernetes/pki/etcd/ca.crt",
				"ETCD_BACKUP_CERT":      "/etc/kubernetes/pki/apiserver-etcd-client.crt",
				"ETCD_BACKUP_KEY":       "/etc/kubernetes/pki/apiserver-etcd-client.key",
			})
			wantPlacement(t, r, "", false, "node-role.kubernetes.io/control-plane")
		},
	},
}

var placementCases = []valuesCase{
	{
		file:   valuesFile("preferred-nodes"),
		golden: "preferred-nodes",
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
}

var jobCases = []valuesCase{
	{
		file: valuesFile("restart-on-failure"),
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
		file: valuesFile("image-digest"),
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

var envCases = []valuesCase{
	{
		file: valuesFile("extra-env-overrides"),
		check: func(t *testing.T, r *release) {
			names := map[string]int{}
			for _, e := range container(t, r).Env {
				names[e.Name]++
			}
			for name, n := range names {
				if n != 1 {
					t.Errorf("env %s rendered %d times; a later upgrade can lose the user's value", name, n)
				}
			}
			wantEnv(t, r, map[string]string{
				"ETCD_BACKUP_RETENTION": "12h",
				"ETCD_BACKUP_LOG_LEVEL": "debug",
				"AWS_REGION":            "eu-west-1",
				"ETCD_BACKUP_KEEP_MIN":  "3",
			})
			if e := envVar(t, r, "ETCD_BACKUP_PASSWORD"); e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Name != "other-secret" {
				t.Errorf("ETCD_BACKUP_PASSWORD = %+v, want the extraEnv secret other-secret", e)
			}
			if e := envVar(t, r, "ETCD_BACKUP_USERNAME"); e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Name != "etcd-root" {
				t.Errorf("ETCD_BACKUP_USERNAME = %+v, want the chart's etcd.auth secret", e)
			}
		},
	},
}

func TestRenderDefaults(t *testing.T)       { runValuesCases(t, defaultCases) }
func TestRenderDestinations(t *testing.T)   { runValuesCases(t, destinationCases) }
func TestRenderSchedule(t *testing.T)       { runValuesCases(t, scheduleCases) }
func TestRenderEtcdConnection(t *testing.T) { runValuesCases(t, etcdConnectionCases) }
func TestRenderPresets(t *testing.T)        { runValuesCases(t, presetCases) }
func TestRenderPlacement(t *testing.T)      { runValuesCases(t, placementCases) }
func TestRenderJob(t *testing.T)            { runValuesCases(t, jobCases) }
func TestRenderEnv(t *testing.T)            { runValuesCases(t, envCases) }

// TestEveryValuesFileHasACase keeps a values file from being added without
// being rendered.
func TestEveryValuesFileHasACase(t *testing.T) {
	cased := map[string]bool{}
	for _, cases := range [][]valuesCase{defaultCases, destinationCases, scheduleCases, etcdConnectionCases, presetCases, placementCases, jobCases, envCases} {
		for _, c := range cases {
			if cased[c.file] {
				t.Errorf("%s is the values of two cases", c.file)
			}
			cased[c.file] = true
		}
	}
	for _, pattern := range []string{valuesFile("*"), exampleFile("*")} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		if len(files) == 0 {
			t.Errorf("no files match %s", pattern)
		}
		for _, f := range files {
			if !cased[f] {
				t.Errorf("%s is rendered by no case", f)
			}
		}
	}
}

// wantPlacement checks the node selection of a preset: the control-plane
// label with the given value, hostNetwork, and a toleration for each taint key.
func wantPlacement(t *testing.T, r *release, labelValue string, hostNetwork bool, tolerated ...string) {
	t.Helper()
	pod := podSpec(r)
	if v, ok := pod.NodeSelector[controlRole]; !ok || v != labelValue || len(pod.NodeSelector) != 1 {
		t.Errorf("nodeSelector %v, want only %s: %q", pod.NodeSelector, controlRole, labelValue)
	}
	if pod.HostNetwork != hostNetwork {
		t.Errorf("hostNetwork %v, want %v", pod.HostNetwork, hostNetwork)
	}
	for _, key := range tolerated {
		if !slices.ContainsFunc(pod.Tolerations, func(tol corev1.Toleration) bool {
			return tol.Key == key && tol.Operator == corev1.TolerationOpExists
		}) {
			t.Errorf("tolerations %+v lack %s", pod.Tolerations, key)
		}
	}
}
