{{/*
The chart name, or nameOverride.
*/}}
{{- define "etcd-backup.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The full name of the release's resources. CronJob names are limited to 52
characters: the controller appends an 11-character suffix to name each Job.
*/}}
{{- define "etcd-backup.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Chart name and version, for the helm.sh/chart label.
*/}}
{{- define "etcd-backup.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels.
*/}}
{{- define "etcd-backup.labels" -}}
helm.sh/chart: {{ include "etcd-backup.chart" . }}
{{ include "etcd-backup.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: backup
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Selector labels.
*/}}
{{- define "etcd-backup.selectorLabels" -}}
app.kubernetes.io/name: {{ include "etcd-backup.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The container image: repository@digest when a digest is set, else repository:tag
with the tag defaulting to the chart's appVersion.
*/}}
{{- define "etcd-backup.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
The ServiceAccount the pod runs as; empty means the namespace's default.
*/}}
{{- define "etcd-backup.serviceAccountName" -}}
{{- $sa := .Values.objectStorage.serviceAccount }}
{{- if $sa.create }}
{{- default (include "etcd-backup.fullname" .) $sa.name }}
{{- else }}
{{- $sa.name }}
{{- end }}
{{- end }}

{{/*
The claim the PVC copy goes to.
*/}}
{{- define "etcd-backup.claimName" -}}
{{- default (include "etcd-backup.fullname" .) .Values.pvcBackup.existingClaim }}
{{- end }}

{{/*
Container paths of the chart's own volumes. The binary and the docs use the same ones.
*/}}
{{- define "etcd-backup.hostBackupMountPath" -}}/backup/host{{- end }}
{{- define "etcd-backup.pvcBackupMountPath" -}}/backup/pvc{{- end }}
{{- define "etcd-backup.workDir" -}}/tmp{{- end }}

{{/*
ETCD_BACKUP_DESTINATIONS as a list, in the order the copies are made: the first
local directory also receives the snapshot as it streams from etcd.
*/}}
{{- define "etcd-backup.destinations" -}}
{{- $d := list }}
{{- if .Values.hostPathBackup.enabled }}
{{- $d = append $d (include "etcd-backup.hostBackupMountPath" .) }}
{{- end }}
{{- if .Values.pvcBackup.enabled }}
{{- $d = append $d (include "etcd-backup.pvcBackupMountPath" .) }}
{{- end }}
{{- if and .Values.objectStorage.enabled .Values.objectStorage.url }}
{{- $d = append $d .Values.objectStorage.url }}
{{- end }}
{{- range .Values.extraDestinations }}
{{- $d = append $d . }}
{{- end }}
{{- join "," $d }}
{{- end }}

{{/*
Checks across values that the schema cannot express; each fails the render
with what is wrong and what is accepted.
*/}}
{{- define "etcd-backup.validate" -}}
{{- include "etcd-backup.validateForms" . }}
{{- include "etcd-backup.validateStorageClass" . }}
{{- if not (include "etcd-backup.destinations" .) }}
{{- fail "no backup destination is enabled: set hostPathBackup.enabled, pvcBackup.enabled or objectStorage.enabled (with objectStorage.url), or list extraDestinations" }}
{{- end }}
{{- if .Values.etcd.certs.enabled }}
{{- range .Values.etcd.endpoints }}
{{- if hasPrefix "http://" . }}
{{- fail (printf "etcd.endpoints has the plain-HTTP endpoint %q while etcd.certs.enabled is true: use https:// endpoints, or set etcd.certs.enabled=false" .) }}
{{- end }}
{{- end }}
{{- end }}
{{- $schemes := dict }}
{{- range .Values.etcd.endpoints }}
{{- $_ := set $schemes (regexFind "^https?" .) true }}
{{- end }}
{{- if gt (len $schemes) 1 }}
{{- fail "etcd.endpoints mixes http:// and https:// URLs: use one scheme for all endpoints" }}
{{- end }}
{{- if .Values.bundle.enabled }}
{{- if and (not .Values.encryption.recipients) (not .Values.bundle.allowPlaintext) }}
{{- fail "bundle.enabled is true but encryption.recipients is empty: the bundle holds the cluster's private keys; add an age or SSH public key to encryption.recipients, or set bundle.allowPlaintext=true" }}
{{- end }}
{{- $root := trimSuffix "/" .Values.bundle.hostPath }}
{{- range .Values.bundle.paths }}
{{- if not (hasPrefix (printf "%s/" $root) (trimSuffix "?" .)) }}
{{- fail (printf "bundle.paths has %q, which is not inside bundle.hostPath %q (the only node directory mounted for the bundle)" . $root) }}
{{- end }}
{{- end }}
{{- end }}
{{- $seen := dict }}
{{- range splitList "," (include "etcd-backup.destinations" .) }}
{{- if hasKey $seen . }}
{{- fail (printf "backup destination %q is listed twice (hostPathBackup/pvcBackup use /backup/host and /backup/pvc): list each destination once" .) }}
{{- end }}
{{- $_ := set $seen . true }}
{{- end }}
{{- end }}

{{/*
The pod affinity: .Values.affinity plus, for preferredNodes, one preferred node
affinity term on kubernetes.io/hostname (weight 100), appended to any
preferred terms already given.
*/}}
{{- define "etcd-backup.affinity" -}}
{{- $affinity := deepCopy (default dict .Values.affinity) }}
{{- with .Values.preferredNodes }}
{{- $nodeAffinity := deepCopy (default dict (get $affinity "nodeAffinity")) }}
{{- $preferred := default list (get $nodeAffinity "preferredDuringSchedulingIgnoredDuringExecution") }}
{{- $term := dict "weight" 100 "preference" (dict "matchExpressions" (list (dict "key" "kubernetes.io/hostname" "operator" "In" "values" .))) }}
{{- $_ := set $nodeAffinity "preferredDuringSchedulingIgnoredDuringExecution" (append $preferred $term) }}
{{- $_ := set $affinity "nodeAffinity" $nodeAffinity }}
{{- end }}
{{- with $affinity }}
{{- toYaml . }}
{{- end }}
{{- end }}

{{/*
The drill CronJob's name: the full name (cut to leave room) plus -drill,
within the 52 characters of a CronJob name.
*/}}
{{- define "etcd-backup.drillName" -}}
{{- printf "%s-drill" (include "etcd-backup.fullname" . | trunc 46 | trimSuffix "-") }}
{{- end }}

{{/*
Labels of the drill's resources: the common ones, with component drill.
*/}}
{{- define "etcd-backup.drillLabels" -}}
{{ include "etcd-backup.labels" . | replace "app.kubernetes.io/component: backup" "app.kubernetes.io/component: drill" }}
{{- end }}

{{/*
The certificate files as [{name, path}]: each value is a file name in
etcd.certs.hostPath or an absolute path, so that files in different
directories (an external etcd's CA next to the API server's client
certificate) can be used. A path named twice (certificate and key in one PEM
file) is mounted once.
*/}}
{{- define "etcd-backup.certFiles" -}}
{{- $c := .Values.etcd.certs }}
{{- $files := list }}
{{- if $c.enabled }}
{{- $seen := dict }}
{{- range $f := list (list "etcd-ca" $c.caFile) (list "etcd-cert" $c.certFile) (list "etcd-key" $c.keyFile) }}
{{- $path := include "etcd-backup.certPath" (dict "dir" $c.hostPath "file" (index $f 1)) }}
{{- if not (hasKey $seen $path) }}
{{- $_ := set $seen $path true }}
{{- $files = append $files (dict "name" (index $f 0) "path" $path) }}
{{- end }}
{{- end }}
{{- end }}
{{- toJson $files }}
{{- end }}

{{- define "etcd-backup.certPath" -}}
{{- if hasPrefix "/" .file }}{{ .file }}{{ else }}{{ printf "%s/%s" (trimSuffix "/" .dir) .file }}{{ end }}
{{- end }}

{{/*
The container's environment: the chart's settings, then extraEnv. A name in
extraEnv replaces the chart's variable of that name instead of following it
as a duplicate (the API server keeps the last duplicate on install, but a
later upgrade's patch can drop it); within extraEnv the last entry of a name
wins.
*/}}
{{- define "etcd-backup.env" -}}
{{- $v := .Values }}
{{- $c := $v.etcd.certs }}
{{- $env := list (dict "name" "ETCD_BACKUP_ENDPOINTS" "value" (join "," $v.etcd.endpoints)) }}
{{- range $name, $file := dict "ETCD_BACKUP_CACERT" $c.caFile "ETCD_BACKUP_CERT" $c.certFile "ETCD_BACKUP_KEY" $c.keyFile }}
{{- $path := "" }}
{{- if $c.enabled }}{{ $path = include "etcd-backup.certPath" (dict "dir" $c.hostPath "file" $file) }}{{ end }}
{{- $env = append $env (dict "name" $name "value" $path) }}
{{- end }}
{{- $auth := $v.etcd.auth }}
{{- if $auth.existingSecret }}
{{- range $name, $key := dict "ETCD_BACKUP_USERNAME" $auth.usernameKey "ETCD_BACKUP_PASSWORD" $auth.passwordKey }}
{{- $env = append $env (dict "name" $name "valueFrom" (dict "secretKeyRef" (dict "name" $auth.existingSecret "key" $key))) }}
{{- end }}
{{- end }}
{{- range $name, $value := dict
  "ETCD_BACKUP_DIAL_TIMEOUT" $v.etcd.dialTimeout
  "ETCD_BACKUP_SNAPSHOT_TIMEOUT" $v.etcd.snapshotTimeout
  "ETCD_BACKUP_DESTINATIONS" (include "etcd-backup.destinations" .)
  "ETCD_BACKUP_RETENTION" $v.retention.maxAge
  "ETCD_BACKUP_KEEP_MIN" (toString $v.retention.keepMin)
  "ETCD_BACKUP_NAME_PREFIX" $v.namePrefix
  "ETCD_BACKUP_DRY_RUN" (toString $v.dryRun)
  "ETCD_BACKUP_LOG_FORMAT" $v.logFormat
  "ETCD_BACKUP_LOG_LEVEL" $v.logLevel
  "ETCD_BACKUP_WORK_DIR" (include "etcd-backup.workDir" .)
  "ETCD_BACKUP_NICE" (toString $v.gentle.nice)
  "ETCD_BACKUP_IO_PRIORITY" (toString $v.gentle.ioPriority)
  "ETCD_BACKUP_RATE_LIMIT" (toString $v.gentle.rateLimit) }}
{{- $env = append $env (dict "name" $name "value" $value) }}
{{- end }}
{{- with $v.metrics.pushgatewayUrl }}
{{- $env = append $env (dict "name" "ETCD_BACKUP_PUSHGATEWAY_URL" "value" .) }}
{{- if $v.metrics.instance }}
{{- $env = append $env (dict "name" "ETCD_BACKUP_METRICS_INSTANCE" "value" $v.metrics.instance) }}
{{- else }}
{{- $env = append $env (dict "name" "ETCD_BACKUP_METRICS_INSTANCE" "valueFrom" (dict "fieldRef" (dict "fieldPath" "spec.nodeName"))) }}
{{- end }}
{{- end }}
{{- if $v.metrics.textfile.enabled }}
{{- $env = append $env (dict "name" "ETCD_BACKUP_METRICS_FILE" "value" (printf "%s/%s" (include "etcd-backup.textfileMountPath" $) $v.metrics.textfile.fileName)) }}
{{- end }}
{{- if ne $v.compression.type "none" }}
{{- $env = append $env (dict "name" "ETCD_BACKUP_COMPRESSION" "value" $v.compression.type) }}
{{- $env = append $env (dict "name" "ETCD_BACKUP_COMPRESSION_LEVEL" "value" (toString $v.compression.level)) }}
{{- end }}
{{- with $v.encryption.recipients }}
{{- $env = append $env (dict "name" "ETCD_BACKUP_ENCRYPT_RECIPIENTS" "value" (join "," .)) }}
{{- end }}
{{- if $v.bundle.enabled }}
{{- $env = append $env (dict "name" "ETCD_BACKUP_BUNDLE_PATHS" "value" (join "," $v.bundle.paths)) }}
{{- if $v.bundle.allowPlaintext }}
{{- $env = append $env (dict "name" "ETCD_BACKUP_BUNDLE_ALLOW_PLAINTEXT" "value" "true") }}
{{- end }}
{{- end }}
{{- $extra := list }}
{{- $named := dict }}
{{- range reverse $v.extraEnv }}
{{- if not (hasKey $named .name) }}
{{- $_ := set $named .name true }}
{{- $extra = prepend $extra . }}
{{- end }}
{{- end }}
{{- $out := list }}
{{- range $env }}
{{- if not (hasKey $named .name) }}{{ $out = append $out . }}{{ end }}
{{- end }}
{{- concat $out $extra | toYaml }}
{{- end }}
