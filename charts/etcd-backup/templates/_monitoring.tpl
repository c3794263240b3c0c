{{/*
Container path of node-exporter's textfile directory.
*/}}
{{- define "etcd-backup.textfileMountPath" -}}/metrics-textfile{{- end }}

{{/*
Whether runs publish etcd_backup_* metrics anywhere Prometheus can see them.
*/}}
{{- define "etcd-backup.metricsPublished" -}}
{{- if or .Values.metrics.pushgatewayUrl .Values.metrics.textfile.enabled }}true{{ end }}
{{- end }}

{{/*
The age of the last successful backup that EtcdBackupTooOld fires at:
prometheusRule.maxAge, or the longest time between two runs of the schedule
plus 2h for a late start and the run itself. Schedules other than the simple
forms below get 26h.
*/}}
{{- define "etcd-backup.alertMaxAge" -}}
{{- if .Values.prometheusRule.maxAge }}
{{- .Values.prometheusRule.maxAge }}
{{- else }}
{{- $s := regexReplaceAll "\\s+" (trim .Values.schedule) " " }}
{{- $hours := 0 }}
{{- if eq $s "@hourly" }}{{ $hours = 1 }}
{{- else if or (eq $s "@daily") (eq $s "@midnight") }}{{ $hours = 24 }}
{{- else if eq $s "@weekly" }}{{ $hours = 168 }}
{{- else }}
{{- $f := splitList " " $s }}
{{- if and (eq (len $f) 5) (regexMatch "^[0-9]+$" (index $f 0)) (eq (index $f 2) "*") (eq (index $f 3) "*") }}
{{- $hour := index $f 1 }}
{{- $dow := index $f 4 }}
{{- if and (eq $hour "*") (eq $dow "*") }}{{ $hours = 1 }}
{{- else if and (regexMatch "^\\*/[0-9]+$" $hour) (eq $dow "*") }}{{ $hours = trimPrefix "*/" $hour | atoi }}
{{- else if and (regexMatch "^[0-9]+(,[0-9]+)*$" $hour) (eq $dow "*") }}{{ $hours = 24 }}
{{- else if and (regexMatch "^[0-9]+(,[0-9]+)*$" $hour) (regexMatch "^[0-9]+(,[0-9]+)*$" $dow) }}{{ $hours = 168 }}
{{- end }}
{{- end }}
{{- end }}
{{- if gt $hours 0 }}{{ add $hours 2 }}h{{ else }}26h{{ end }}
{{- end }}
{{- end }}

{{/*
Seconds in an alert duration: a whole number of m, h or d.
*/}}
{{- define "etcd-backup.durationSeconds" -}}
{{- $n := regexReplaceAll "[mhd]$" . "" | atoi }}
{{- $unit := dict "m" 60 "h" 3600 "d" 86400 }}
{{- mul $n (get $unit (substr (sub (len .) 1 | int) (len .) .)) }}
{{- end }}

{{/*
Label matchers of the pushed etcd_backup_* series, in braces; empty for none.
*/}}
{{- define "etcd-backup.metricsSelector" -}}
{{- with .Values.prometheusRule.metricsSelector }}{{ printf "{%s}" . }}{{ end }}
{{- end }}
