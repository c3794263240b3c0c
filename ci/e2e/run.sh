#!/usr/bin/env bash
# What `make e2e` runs: the chart and the image on a real single-node cluster
# (ci/e2e/cluster.sh), driven by the real helm and kubectl, scenario by
# scenario; the first failure stops the run with what the cluster showed.
# Everything runs in a network namespace of its own and is torn down at the
# end, whatever happened. Needs root (namespaces, mounts, cgroups).
#
# Settings: E2E_KEEP=1 leaves the cluster up (and prints how to reach it)
# instead of tearing it down; TOOLS_DIR as in ci/e2e/build.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"

# shellcheck source=ci/e2e/cluster.sh
. "$here/cluster.sh"

RELEASE=etcd-backup
NS=kube-system
VERSION=$(cat VERSION)
IMAGE=ghcr.io/etcd-backup/etcd-backup:$VERSION
BACKUP_JOB=$root/bin/linux_$(go env GOARCH)/backup-job
S3_PORT=7070
S3_BUCKET=etcd-backups

log() { printf 'e2e: %s\n' "$*" >&2; }
fail() {
  log "FAIL: $*"
  exit 1
}
phase_start=$SECONDS
phase() {
  log "--- $* (after $((SECONDS - phase_start))s)"
}

install_packages() {
  local missing=() p
  for p in containerd:containerd runc:runc buildah:buildah jq:jq curl:curl openssl:openssl ip:iproute2 nsenter:util-linux; do
    command -v "${p%%:*}" >/dev/null 2>&1 || missing+=("${p#*:}")
  done
  [ -x /usr/lib/cni/bridge ] || missing+=(containernetworking-plugins)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]} from Debian packages"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# on_exit: what the cluster showed when a scenario failed, then teardown.
on_exit() {
  local rc=$?
  if [ $rc -ne 0 ] && [ -n "${E2E_DIR:-}" ] && [ -f "$E2E_DIR/admin.conf" ]; then
    log "diagnostics:"
    k get nodes,cronjobs,jobs,pods,pvc,pv -A -o wide 2>&1 | sed 's/^/  /' >&2 || true
    k describe pods -n "$NS" 2>&1 | tail -60 | sed 's/^/  /' >&2 || true
    k get events -A --sort-by=.lastTimestamp 2>&1 | tail -30 | sed 's/^/  /' >&2 || true
    local f
    for f in "$E2E_DIR"/logs/*.log; do
      [ -f "$f" ] || continue
      echo "  == $(basename "$f") (last lines)" >&2
      tail -15 "$f" | sed 's/^/    /' >&2
    done
  fi
  if [ "${E2E_KEEP:-}" = 1 ] && [ -n "${E2E_DIR:-}" ]; then
    log "cluster kept: KUBECONFIG=$E2E_DIR/admin.conf, run kubectl with: nsenter --net=/run/netns/$E2E_NETNS"
  else
    cluster_down
    [ -z "${E2E_DIR:-}" ] || rm -rf "$E2E_DIR"
  fi
  log "total $((SECONDS - phase_start))s, exit $rc"
  exit $rc
}

# base_values: the values every install here sets: only node-local paths (this
# node's kubeadm layout lives under $E2E_DIR, not /etc/kubernetes).
base_values() {
  cat >"$E2E_DIR/values.yaml" <<EOF
etcd:
  certs:
    hostPath: $E2E_DIR/pki/etcd
hostPathBackup:
  path: $E2E_DIR/host-backup
EOF
}

# next_minute: a cron schedule for the next whole minute at least 20 s away, in
# the chart's default time zone, so that the scheduled run comes soon and the
# time zone is exercised.
next_minute() {
  local at=$(($(date +%s) + 80))
  TZ=Asia/Seoul date -d "@$((at - at % 60))" '+%-M %-H * * *'
}

# wait_job NAME CONDITION SECONDS: waits for job NAME to reach Complete or Failed.
wait_job() {
  local job=$1 cond=$2 limit=$3 deadline got
  deadline=$((SECONDS + limit))
  while :; do
    got=$(k get job -n "$NS" "$job" -o jsonpath='{range .status.conditions[?(@.status=="True")]}{.type}{" "}{end}' 2>/dev/null || true)
    case " $got " in
    *" $cond "*) return 0 ;;
    *" Complete "* | *" Failed "*) fail "job $job ended as '$got', want $cond" ;;
    esac
    [ $SECONDS -lt $deadline ] || fail "job $job not $cond after ${limit}s (conditions: '$got')"
    sleep 2
  done
}

# scheduled_job_names: the Jobs the CronJob controller created on schedule
# (`create job --from` ones lack the annotation), oldest first.
scheduled_job_names() {
  k get jobs -n "$NS" -o jsonpath='{range .items[*]}{.metadata.annotations.batch\.kubernetes\.io/cronjob-scheduled-timestamp}{" "}{.metadata.name}{"\n"}{end}' |
    awk 'NF == 2' | sort | cut -d' ' -f2
}
# scheduled_jobs N: true once there are at least N of them.
scheduled_jobs() { [ "$(scheduled_job_names | wc -l)" -ge "$1" ]; }
has_event() { k get events -n "$NS" --field-selector "reason=$1" -o name | grep -q .; }

# pods_of JOB: the names of the job's pods.
pods_of() { k get pods -n "$NS" -l "job-name=$1" -o jsonpath='{.items[*].metadata.name}'; }

# summary_of POD: the termination message of the backup container.
summary_of() {
  k get pod -n "$NS" "$1" -o jsonpath='{.status.containerStatuses[0].state.terminated.message}'
}
exit_code_of() {
  k get pod -n "$NS" "$1" -o jsonpath='{.status.containerStatuses[0].state.terminated.exitCode}'
}

# check_good_run JOB: one pod, on the control-plane node, exit 0, a summary
# saying ok whose snapshot is in the host directory and on the PVC, and both
# copies pass `backup-job verify`. Prints the snapshot name.
check_good_run() {
  local job=$1 pods pod summary name node dir
  pods=$(pods_of "$job")
  [ "$(wc -w <<<"$pods")" = 1 ] || fail "job $job has pods '$pods', want one"
  pod=$pods
  node=$(k get pod -n "$NS" "$pod" -o jsonpath='{.spec.nodeName}')
  [ "$node" = "$NODE_NAME" ] || fail "pod $pod ran on '$node', want $NODE_NAME"
  [ "$(exit_code_of "$pod")" = 0 ] || fail "pod $pod exited $(exit_code_of "$pod")"
  summary=$(summary_of "$pod")
  log "summary of $pod: $summary"
  jq -e '.status == "ok" and (.destinations | length) >= 2 and all(.destinations[]; .status == "ok")' <<<"$summary" >/dev/null ||
    fail "summary of $pod is not ok on every destination: $summary"
  name=$(jq -r .snapshot.name <<<"$summary")
  for dir in "$E2E_DIR/host-backup" "$E2E_DIR/pv"; do
    [ -f "$dir/$name" ] || fail "$name not in $dir: $(ls "$dir")"
    "$BACKUP_JOB" verify "$dir/$name" >/dev/null || fail "$dir/$name does not verify"
  done
  echo "$name"
}

# helm_upgrade ARGS...: upgrade keeping the base values.
helm_upgrade() { h upgrade "$RELEASE" charts/etcd-backup -n "$NS" -f "$E2E_DIR/values.yaml" --wait=false "$@" >/dev/null; }

manual_job() {
  local job
  job="$RELEASE-manual-$(date +%s%N | cut -c1-13)"
  k create job -n "$NS" --from="cronjob/$RELEASE" "$job" >/dev/null
  echo "$job"
}

scenario_no_default_storage_class() {
  phase "default install on a cluster without a default StorageClass is refused"
  local out
  if out=$(h install "$RELEASE" charts/etcd-backup -n "$NS" -f "$E2E_DIR/values.yaml" 2>&1); then
    fail "install succeeded without a default StorageClass; the PVC would stay Pending: $out"
  fi
  for want in "no default StorageClass" pvcBackup.storageClass pvcBackup.existingClaim pvcBackup.enabled=false; do
    grep -qF "$want" <<<"$out" || fail "install refusal does not name '$want': $out"
  done
  k get cronjob -n "$NS" "$RELEASE" >/dev/null 2>&1 && fail "the refused install left a CronJob"
  log "refused: $out"
}

# A plain kubeadm cluster's way out: a default StorageClass with a static,
# node-local PersistentVolume.
make_storage() {
  mkdir -p "$E2E_DIR/pv"
  k apply -f - >/dev/null <<EOF
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: e2e-local
  annotations: {storageclass.kubernetes.io/is-default-class: "true"}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: e2e-backups
spec:
  capacity: {storage: 10Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: e2e-local
  persistentVolumeReclaimPolicy: Retain
  local: {path: $E2E_DIR/pv}
  nodeAffinity:
    required:
      nodeSelectorTerms:
        - matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [$NODE_NAME]}]
EOF
}

scenario_scheduled_run() {
  phase "default install: the scheduled run"
  local schedule job name
  schedule=$(next_minute)
  h install "$RELEASE" charts/etcd-backup -n "$NS" -f "$E2E_DIR/values.yaml" --set schedule="$schedule" >"$E2E_DIR/notes.txt"
  grep -q "kubectl create job --from=cronjob/$RELEASE" "$E2E_DIR/notes.txt" || fail "NOTES lack the ad-hoc run: $(cat "$E2E_DIR/notes.txt")"
  log "installed with schedule '$schedule' (Asia/Seoul); waiting for the scheduled Job"
  wait_for "a Job of CronJob $RELEASE" 200 scheduled_jobs 1
  job=$(scheduled_job_names | tail -1)
  wait_job "$job" Complete 300
  name=$(check_good_run "$job")
  log "scheduled job $job: $name in the host directory and on the PVC, both verified"
}

scenario_manual_run() {
  phase "kubectl create job --from=cronjob/$RELEASE"
  local job name
  job=$(manual_job)
  wait_job "$job" Complete 300
  name=$(check_good_run "$job")
  log "manual job $job: $name verified"
  # The CronJob controller reports every Job it did not create; the chart README documents it.
  wait_for "UnexpectedJob event" 30 has_event UnexpectedJob
}

scenario_bad_retention() {
  phase "bad retention: exit 2 fails the Job at once, no retry"
  local job pods out
  helm_upgrade --set 'extraEnv[0].name=ETCD_BACKUP_RETENTION' --set 'extraEnv[0].value=five days'
  # A name the chart sets comes out once, with the user's value.
  out=$(k get cronjob -n "$NS" "$RELEASE" -o jsonpath='{range .spec.jobTemplate.spec.template.spec.containers[0].env[?(@.name=="ETCD_BACKUP_RETENTION")]}{.value}{"\n"}{end}')
  [ "$out" = "five days" ] || fail "ETCD_BACKUP_RETENTION after upgrade: '$out', want once 'five days'"
  job=$(manual_job)
  wait_job "$job" Failed 300
  k get job -n "$NS" "$job" -o jsonpath='{.status.conditions[?(@.type=="Failed")].reason}' | grep -qx PodFailurePolicy ||
    fail "job $job failed, but not through the pod failure policy"
  pods=$(pods_of "$job")
  [ "$(wc -w <<<"$pods")" = 1 ] || fail "job $job has pods '$pods': a bad configuration was retried"
  [ "$(exit_code_of "$pods")" = 2 ] || fail "pod $pods exited $(exit_code_of "$pods"), want 2"
  log "job $job failed at once: $(summary_of "$pods")"
  helm_upgrade
}

scenario_wrong_certificate() {
  phase "wrong client certificate: exit 1, summary in kubectl describe"
  local job pod
  # A certificate of the cluster CA, which etcd does not trust; in another
  # directory than the CA, as an external etcd's client certificate is.
  helm_upgrade --set backoffLimit=0 --set etcd.certs.certFile="$E2E_DIR/pki/admin.crt" --set etcd.certs.keyFile="$E2E_DIR/pki/admin.key"
  job=$(manual_job)
  wait_job "$job" Failed 300
  pod=$(pods_of "$job")
  [ "$(exit_code_of "$pod")" = 1 ] || fail "pod $pod exited $(exit_code_of "$pod"), want 1"
  k describe pod -n "$NS" "$pod" | grep -q '"status":"failed"' || fail "kubectl describe pod $pod does not show the summary"
  log "job $job: $(summary_of "$pod")"
  helm_upgrade
}

scenario_upgrade_schedule_and_retention() {
  phase "helm upgrade of schedule and retention takes effect"
  local schedule job summary left
  schedule=$(next_minute)
  helm_upgrade --set schedule="$schedule" --set retention.maxAge=1s --set retention.keepMin=1
  [ "$(k get cronjob -n "$NS" "$RELEASE" -o jsonpath='{.spec.schedule}')" = "$schedule" ] || fail "schedule not upgraded"
  log "upgraded to schedule '$schedule', maxAge 1s, keepMin 1; waiting for the scheduled Job"
  wait_for "a Job scheduled at '$schedule'" 200 scheduled_jobs 2
  job=$(scheduled_job_names | tail -1)
  wait_job "$job" Complete 300
  check_good_run "$job" >/dev/null
  summary=$(summary_of "$(pods_of "$job")")
  jq -e 'all(.destinations[]; .pruned_count >= 1)' <<<"$summary" >/dev/null || fail "nothing pruned with maxAge 1s: $summary"
  left=$(find "$E2E_DIR/host-backup" -name 'etcd-snapshot-*.db' | wc -l)
  [ "$left" = 1 ] || fail "$left snapshots left in the host directory, want 1 (keepMin)"
}

scenario_object_storage() {
  phase "object storage: versitygw in the cluster's network namespace"
  local key secret job name obj
  key=E2E$(openssl rand -hex 6)
  # curl signs requests itself; S3 also wants the payload's hash declared.
  s3() { in_ns curl -sf --aws-sigv4 aws:amz:us-east-1:s3 --user "$key:$secret" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" "$@"; }
  secret=$(openssl rand -hex 20)
  mkdir -p "$E2E_DIR/s3"
  start versitygw "$TOOLS_DIR/bin/versitygw" --access "$key" --secret "$secret" --region us-east-1 \
    --port "127.0.0.1:$S3_PORT" --quiet posix "$E2E_DIR/s3"
  wait_for versitygw 60 in_ns curl -s -o /dev/null "http://127.0.0.1:$S3_PORT/"
  s3 -X PUT "http://127.0.0.1:$S3_PORT/$S3_BUCKET" >/dev/null ||
    fail "creating bucket $S3_BUCKET"
  k create secret generic -n "$NS" etcd-backup-s3 --from-literal=AWS_ACCESS_KEY_ID="$key" \
    --from-literal=AWS_SECRET_ACCESS_KEY="$secret" --from-literal=AWS_REGION=us-east-1 >/dev/null
  helm_upgrade --set objectStorage.enabled=true --set objectStorage.existingSecret=etcd-backup-s3 \
    --set-string objectStorage.url="s3://$S3_BUCKET/e2e?region=us-east-1&endpoint=http://127.0.0.1:$S3_PORT&use_path_style=true"
  job=$(manual_job)
  wait_job "$job" Complete 300
  name=$(check_good_run "$job")
  obj="$E2E_DIR/s3-object.db"
  s3 -o "$obj" "http://127.0.0.1:$S3_PORT/$S3_BUCKET/e2e/$name" || fail "object e2e/$name not in bucket $S3_BUCKET"
  "$BACKUP_JOB" verify "$obj" >/dev/null || fail "the object e2e/$name does not verify"
  log "object s3://$S3_BUCKET/e2e/$name landed and verifies"
}

scenario_uninstall() {
  phase "helm uninstall leaves the PVC (helm.sh/resource-policy: keep)"
  h uninstall "$RELEASE" -n "$NS" >/dev/null
  k get cronjob -n "$NS" "$RELEASE" >/dev/null 2>&1 && fail "CronJob left after uninstall"
  k get pvc -n "$NS" "$RELEASE" >/dev/null || fail "PVC $RELEASE removed by uninstall; the chart README says it stays"
  [ -n "$(ls "$E2E_DIR/pv")" ] || fail "the PV's backups are gone"
}

scenario_pod_security() {
  phase "a namespace at Pod Security level baseline: NOTES warn, Jobs get no pod"
  local ns=e2e-baseline job
  k create namespace "$ns" >/dev/null
  k label namespace "$ns" pod-security.kubernetes.io/enforce=baseline >/dev/null
  h install psa charts/etcd-backup -n "$ns" -f "$E2E_DIR/values.yaml" --set pvcBackup.enabled=false >"$E2E_DIR/notes-psa.txt"
  grep -qF "WARNING: namespace $ns enforces Pod Security level \"baseline\"" "$E2E_DIR/notes-psa.txt" ||
    fail "NOTES do not warn about the namespace's Pod Security level: $(cat "$E2E_DIR/notes-psa.txt")"
  job=psa-manual-$(date +%s)
  k create job -n "$ns" --from=cronjob/psa-etcd-backup "$job" >/dev/null
  wait_for "FailedCreate for job $job" 60 forbidden_by_pod_security "$ns"
  [ -z "$(k get pods -n "$ns" -l "job-name=$job" -o name)" ] || fail "job $job got a pod in a baseline namespace"
  log "job $job: $(k get events -n "$ns" --field-selector reason=FailedCreate -o jsonpath='{.items[0].message}' | cut -c1-200)"
  h uninstall psa -n "$ns" >/dev/null
}
forbidden_by_pod_security() {
  k get events -n "$1" --field-selector reason=FailedCreate -o jsonpath='{.items[*].message}' | grep -q PodSecurity
}

main() {
  [ "$(id -u)" = 0 ] || fail "needs root: network namespaces, mounts and cgroups"
  install_packages
  phase "building the cluster's binaries and the image"
  eval "$("$here/build.sh")"
  TOOLS_DIR=${TOOLS_DIR:-$root/.tools}
  "$root/ci/install-test-servers.sh" >/dev/null
  [ -x "$TOOLS_DIR/bin/versitygw" ] || fail "versitygw not installed by ci/install-test-servers.sh"
  ci/image.sh build
  [ -x "$BACKUP_JOB" ] || fail "$BACKUP_JOB not built by ci/image.sh"

  E2E_DIR=$(mktemp -d /tmp/etcd-backup-e2e.XXXXXX)
  E2E_NETNS=$(basename "$E2E_DIR")
  trap on_exit EXIT
  trap 'exit 130' INT TERM
  phase "cluster up"
  cluster_up
  buildah --storage-driver vfs push --quiet "$IMAGE" "docker-archive:$E2E_DIR/image.tar:$IMAGE"
  import_image "$E2E_DIR/image.tar"
  h version --short >&2
  base_values

  scenario_no_default_storage_class
  make_storage
  scenario_scheduled_run
  scenario_manual_run
  scenario_bad_retention
  scenario_wrong_certificate
  scenario_upgrade_schedule_and_retention
  scenario_object_storage
  scenario_uninstall
  scenario_pod_security
  phase "all scenarios passed"
}

main "$@"
