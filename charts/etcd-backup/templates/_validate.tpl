{{/*
Checks the values schema cannot word well: a JSON schema error for a string
with several accepted forms reads "'anyOf' failed" followed by regular
expressions. Each check here fails the render with the value's name, what was
given and what is accepted. values.schema.json still checks the types.
*/}}
{{- define "etcd-backup.validateForms" -}}
{{- include "etcd-backup.validateSchedule" .Values.schedule }}
{{- $days := "^0*[1-9][0-9]{0,4}d$" }}
{{- $duration := "^(([0-9]+(\\.[0-9]*)?|\\.[0-9]+)(ns|us|µs|ms|s|m|h))+$" }}
{{- $maxAge := .Values.retention.maxAge }}
{{- if not (or (regexMatch $days $maxAge) (and (regexMatch $duration $maxAge) (regexMatch "[1-9]" $maxAge))) }}
{{- fail (printf "retention.maxAge %q is not accepted: give whole days such as 5d (1d to 99999d), or a positive Go duration such as 120h or 36h30m (units h, m, s, ms, us, ns)" $maxAge) }}
{{- end }}
{{- $certs := .Values.etcd.certs }}
{{- range $key := list "caFile" "certFile" "keyFile" }}
{{- $v := get $certs $key }}
{{- if not (or (regexMatch "^[A-Za-z0-9_][A-Za-z0-9._-]*$" $v) (include "etcd-backup.isAbsPath" $v)) }}
{{- fail (printf "etcd.certs.%s %q is not accepted: give a file name in etcd.certs.hostPath such as ca.crt, or an absolute path without . or .. components such as /etc/kubernetes/pki/apiserver-etcd-client.crt" $key $v) }}
{{- end }}
{{- end }}
{{- $os := .Values.objectStorage }}
{{- if and $os.enabled (not $os.url) }}
{{- fail "objectStorage.enabled is true but objectStorage.url is empty: set it to s3://bucket/prefix?region=..., gs://bucket/prefix or azblob://container/prefix" }}
{{- end }}
{{- if and $os.url (not (include "etcd-backup.isBlobURL" $os.url)) }}
{{- fail (printf "objectStorage.url %q is not accepted: give s3://bucket[/prefix][?options], gs://bucket[/prefix] or azblob://container[/prefix], without credentials (they come from objectStorage.existingSecret)" $os.url) }}
{{- end }}
{{- range $i, $d := .Values.extraDestinations }}
{{- if not (or (include "etcd-backup.isAbsPath" $d) (include "etcd-backup.isBlobURL" $d) (regexMatch "^file:///[^,\\s]+$" $d)) }}
{{- fail (printf "extraDestinations[%d] %q is not accepted: give an absolute path of a mounted directory (extraVolumeMounts), file:///path, or a bucket URL s3://..., gs://..., azblob://..." $i $d) }}
{{- end }}
{{- end }}
{{- end }}

{{- define "etcd-backup.isAbsPath" -}}
{{- if regexMatch "^(/([^/.][^/]*|\\.[^/.][^/]*|\\.\\.[^/]+))+/?$" . }}true{{ end }}
{{- end }}

{{- define "etcd-backup.isBlobURL" -}}
{{- if regexMatch "^(s3|gs|azblob)://[^/?#@:]+([/?][^,\\s]*)?$" . }}true{{ end }}
{{- end }}

{{/*
The schedule as the CronJob controller reads it (github.com/robfig/cron/v3,
ParseStandard): a macro, or five fields of comma-separated items (empty items
are skipped, as the library does; a field of none at all, which would never
fire, is refused), each *, ?,
a value or a range a-b, optionally with a step /n; months and weekdays also
by their three-letter English names. The chart tests check this against the
cron library itself.
*/}}
{{- define "etcd-backup.validateSchedule" -}}
{{- $s := . }}
{{- $accepted := "five fields \"minute hour day-of-month month day-of-week\" such as \"0 17 * * *\" (each field: *, a value, a range a-b, a step */n or a-b/n, or a comma-separated list of those), or one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly, @every <duration>" }}
{{- if regexMatch "TZ=" $s }}
{{- fail (printf "schedule %q is not accepted: the time zone goes in the timeZone value, not in the schedule" $s) }}
{{- end }}
{{- if hasPrefix "@" $s }}
{{- if not (regexMatch "^@(yearly|annually|monthly|weekly|daily|midnight|hourly|every ([0-9]+(\\.[0-9]*)?(ns|us|µs|ms|s|m|h))+)$" $s) }}
{{- fail (printf "schedule %q is not accepted: give %s" $s $accepted) }}
{{- end }}
{{- else }}
{{- $fields := regexSplit "[ \\t]+" (trim $s) -1 }}
{{- if ne (len $fields) 5 }}
{{- fail (printf "schedule %q has %d fields: give %s" $s (len $fields) $accepted) }}
{{- end }}
{{- $months := dict "jan" 1 "feb" 2 "mar" 3 "apr" 4 "may" 5 "jun" 6 "jul" 7 "aug" 8 "sep" 9 "oct" 10 "nov" 11 "dec" 12 }}
{{- $days := dict "sun" 0 "mon" 1 "tue" 2 "wed" 3 "thu" 4 "fri" 5 "sat" 6 }}
{{- $specs := list
  (dict "name" "minute" "min" 0 "max" 59 "names" (dict) "hint" "")
  (dict "name" "hour" "min" 0 "max" 23 "names" (dict) "hint" "")
  (dict "name" "day-of-month" "min" 1 "max" 31 "names" (dict) "hint" "")
  (dict "name" "month" "min" 1 "max" 12 "names" $months "hint" " or JAN-DEC")
  (dict "name" "day-of-week" "min" 0 "max" 6 "names" $days "hint" " or SUN-SAT") }}
{{- range $i, $field := $fields }}
{{- $spec := index $specs $i }}
{{- $bad := printf "schedule %q: the %s field %q is not accepted: give *, values %d-%d%s, ranges a-b, steps */n or a-b/n (n > 0), or a comma-separated list of those" $s $spec.name $field (int $spec.min) (int $spec.max) $spec.hint }}
{{- $items := without (splitList "," $field) "" }}
{{- if not $items }}{{ fail $bad }}{{ end }}
{{- range $item := $items }}
{{- $parts := splitList "/" $item }}
{{- if gt (len $parts) 2 }}{{ fail $bad }}{{ end }}
{{- if eq (len $parts) 2 }}
{{- $step := index $parts 1 }}
{{- if or (not (regexMatch "^[0-9]+$" $step)) (eq (atoi $step) 0) }}{{ fail $bad }}{{ end }}
{{- end }}
{{- $range := index $parts 0 }}
{{- if not (or (eq $range "*") (eq $range "?")) }}
{{- $ends := splitList "-" $range }}
{{- if gt (len $ends) 2 }}{{ fail $bad }}{{ end }}
{{- $values := list }}
{{- range $end := $ends }}
{{- $v := -1 }}
{{- if regexMatch "^[0-9]+$" $end }}
{{- $v = atoi $end }}
{{- else if hasKey $spec.names (lower $end) }}
{{- $v = int (get $spec.names (lower $end)) }}
{{- end }}
{{- if or (lt $v (int $spec.min)) (gt $v (int $spec.max)) }}{{ fail $bad }}{{ end }}
{{- $values = append $values $v }}
{{- end }}
{{- if gt (first $values) (last $values) }}{{ fail $bad }}{{ end }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/*
A claim that takes the cluster's default StorageClass, on a cluster that has
none, stays Pending, and then so does every backup pod, host copy included.
Refused at install while the cluster can be asked (lookup is empty under
`helm template` and client-side dry runs, which skip the check); an existing
claim (an upgrade) is left to the cluster.
*/}}
{{- define "etcd-backup.validateStorageClass" -}}
{{- $p := .Values.pvcBackup }}
{{- if and $p.enabled (not $p.existingClaim) (not $p.storageClass) (lookup "v1" "Namespace" "" "kube-system") }}
{{- if not (lookup "v1" "PersistentVolumeClaim" .Release.Namespace (include "etcd-backup.fullname" .)) }}
{{- $default := false }}
{{- range (lookup "storage.k8s.io/v1" "StorageClass" "" "").items }}
{{- $a := default dict .metadata.annotations }}
{{- if or (eq (get $a "storageclass.kubernetes.io/is-default-class") "true") (eq (get $a "storageclass.beta.kubernetes.io/is-default-class") "true") }}
{{- $default = true }}
{{- end }}
{{- end }}
{{- if not $default }}
{{- fail "pvcBackup: the cluster has no default StorageClass, so the chart's PersistentVolumeClaim would stay Pending and no backup would run at all, not even the host copy. Set one of: pvcBackup.storageClass=<a class from `kubectl get storageclass`> (\"-\" for a PersistentVolume bound by hand), pvcBackup.existingClaim=<a claim you created>, or pvcBackup.enabled=false (host directory and object storage only)" }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
