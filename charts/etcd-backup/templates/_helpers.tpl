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
{{- if not (include "etcd-backup.destinations" .) }}
{{- fail "no backup destination is enabled: set hostPathBackup.enabled, pvcBackup.enabled or objectStorage.enabled (with objectStorage.url), or list extraDestinations" }}
{{- end }}
{{- if and .Values.objectStorage.enabled (not .Values.objectStorage.url) }}
{{- fail "objectStorage.enabled is true but objectStorage.url is empty: set it to s3://bucket/prefix?region=..., gs://bucket/prefix or azblob://container/prefix" }}
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
