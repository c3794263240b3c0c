# shellcheck shell=bash
# A single-node Kubernetes cluster in a network namespace of its own, for
# ci/e2e/run.sh (which sources this file). Laid out as kubeadm lays out a
# control-plane node, under a scratch directory $E2E_DIR instead of /:
#   $E2E_DIR/pki/            the cluster CA and its certificates, sa.key
#   $E2E_DIR/pki/etcd/       etcd's CA, server.crt/key (kubeadm's names)
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, containerd
# and the kubelet all run inside the namespace, where the only interface is
# the loopback device, which also carries the node's address: nothing the
# cluster does can reach another host, and its ports cannot collide with
# anything on the machine's own 127.0.0.1.
#
# Needs: K8S_BIN, ETCD, PAUSE_BIN (ci/e2e/build.sh), E2E_DIR, E2E_NETNS, and
# root. cluster_down undoes everything cluster_up did, whatever state it is in.

NODE_NAME=e2e-control-plane
# The kubelet refuses a loopback node address; this one (TEST-NET-1) exists
# only on the namespace's loopback device.
NODE_IP=192.0.2.10
SERVICE_CIDR=10.96.0.0/24
CGROUP_ROOT=/etcd-backup-e2e
PAUSE_IMAGE=registry.k8s.io/pause:e2e

in_ns() { nsenter --net="/run/netns/$E2E_NETNS" -- "$@"; }
k() { in_ns "$K8S_BIN/kubectl" --kubeconfig "$E2E_DIR/admin.conf" "$@"; }
h() { in_ns env HOME="$E2E_DIR/helm-home" "$HELM" --kubeconfig "$E2E_DIR/admin.conf" "$@"; }
ctr_ns() { ctr --address "$E2E_DIR/containerd/containerd.sock" -n k8s.io "$@"; }
clog() { printf 'e2e cluster: %s\n' "$*" >&2; }

# start NAME CMD...: runs CMD in the namespace in the background, its output
# in $E2E_DIR/logs/NAME.log, its pid in $E2E_DIR/pids/NAME. nsenter, not `ip
# netns exec`: the latter remounts /sys and hides the cgroup hierarchy that
# containerd and the kubelet manage.
start() {
  local name=$1
  shift
  mkdir -p "$E2E_DIR/logs" "$E2E_DIR/pids"
  setsid nsenter --net="/run/netns/$E2E_NETNS" -- "$@" >"$E2E_DIR/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$E2E_DIR/pids/$name"
}

# wait_for WHAT SECONDS CMD...: retries CMD every second until it succeeds.
wait_for() {
  local what=$1 limit=$2 deadline
  shift 2
  deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      clog "FAIL: $what not ready after ${limit}s"
      return 1
    fi
    sleep 1
  done
}

# cert NAME CA SUBJECT EXT: a key and a certificate signed by CA (a path
# prefix: CA.crt and CA.key), with the given extensions (openssl syntax).
cert() {
  local name=$1 ca=$2 subject=$3 ext=$4
  openssl req -new -newkey rsa:2048 -nodes -keyout "$name.key" -subj "$subject" -out "$name.csr" 2>/dev/null
  openssl x509 -req -in "$name.csr" -CA "$ca.crt" -CAkey "$ca.key" -CAcreateserial -days 2 \
    -extfile <(printf '%s\n' "$ext") -out "$name.crt" 2>/dev/null
  rm -f "$name.csr"
  chmod 600 "$name.key"
}
ca() {
  openssl req -x509 -new -newkey rsa:2048 -nodes -keyout "$1.key" -subj "/CN=$2" -days 2 -out "$1.crt" 2>/dev/null
}

make_pki() {
  local p=$E2E_DIR/pki client="extendedKeyUsage=clientAuth"
  mkdir -p "$p/etcd"
  ca "$p/etcd/ca" etcd-ca
  cert "$p/etcd/server" "$p/etcd/ca" "/CN=$NODE_NAME" \
    "extendedKeyUsage=serverAuth,clientAuth
subjectAltName=DNS:localhost,DNS:$NODE_NAME,IP:127.0.0.1,IP:$NODE_IP"
  cert "$p/apiserver-etcd-client" "$p/etcd/ca" "/CN=kube-apiserver-etcd-client" "$client"
  ca "$p/ca" kubernetes
  cert "$p/apiserver" "$p/ca" "/CN=kube-apiserver" \
    "extendedKeyUsage=serverAuth
subjectAltName=DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:localhost,IP:127.0.0.1,IP:$NODE_IP,IP:10.96.0.1"
  cert "$p/apiserver-kubelet-client" "$p/ca" "/O=system:masters/CN=kube-apiserver-kubelet-client" "$client"
  cert "$p/admin" "$p/ca" "/O=system:masters/CN=kubernetes-admin" "$client"
  cert "$p/controller-manager" "$p/ca" "/CN=system:kube-controller-manager" "$client"
  cert "$p/scheduler" "$p/ca" "/CN=system:kube-scheduler" "$client"
  cert "$p/kubelet" "$p/ca" "/O=system:nodes/CN=system:node:$NODE_NAME" "$client"
  openssl genrsa -out "$p/sa.key" 2048 2>/dev/null
  openssl rsa -in "$p/sa.key" -pubout -out "$p/sa.pub" 2>/dev/null
  local c
  for c in admin controller-manager scheduler kubelet; do kubeconfig "$c"; done
}

# kubeconfig NAME: $E2E_DIR/NAME.conf with the client certificate pki/NAME.
kubeconfig() {
  cat >"$E2E_DIR/$1.conf" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: https://$NODE_IP:6443
    certificate-authority: $E2E_DIR/pki/ca.crt
users:
- name: $1
  user:
    client-certificate: $E2E_DIR/pki/$1.crt
    client-key: $E2E_DIR/pki/$1.key
contexts:
- name: e2e
  context: {cluster: e2e, user: $1}
current-context: e2e
EOF
}

make_netns() {
  ip netns add "$E2E_NETNS"
  in_ns ip link set lo up
  in_ns ip addr add "$NODE_IP/32" dev lo
}

start_etcd() {
  local p=$E2E_DIR/pki/etcd
  start etcd "$ETCD" --name "$NODE_NAME" --data-dir "$E2E_DIR/etcd" \
    --listen-client-urls https://127.0.0.1:2379 --advertise-client-urls https://127.0.0.1:2379 \
    --cert-file "$p/server.crt" --key-file "$p/server.key" --trusted-ca-file "$p/ca.crt" --client-cert-auth \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster "$NODE_NAME=http://127.0.0.1:2380" --listen-metrics-urls http://127.0.0.1:2381
  wait_for etcd 60 in_ns curl -sf http://127.0.0.1:2381/health
}

start_control_plane() {
  local p=$E2E_DIR/pki
  start kube-apiserver "$K8S_BIN/kube-apiserver" \
    --advertise-address "$NODE_IP" --bind-address "$NODE_IP" --secure-port 6443 --cert-dir "$E2E_DIR/apiserver" \
    --etcd-servers https://127.0.0.1:2379 --etcd-cafile "$p/etcd/ca.crt" \
    --etcd-certfile "$p/apiserver-etcd-client.crt" --etcd-keyfile "$p/apiserver-etcd-client.key" \
    --client-ca-file "$p/ca.crt" --tls-cert-file "$p/apiserver.crt" --tls-private-key-file "$p/apiserver.key" \
    --kubelet-client-certificate "$p/apiserver-kubelet-client.crt" --kubelet-client-key "$p/apiserver-kubelet-client.key" \
    --kubelet-preferred-address-types InternalIP \
    --service-account-issuer https://kubernetes.default.svc --service-account-key-file "$p/sa.pub" \
    --service-account-signing-key-file "$p/sa.key" --service-cluster-ip-range "$SERVICE_CIDR" \
    --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction --allow-privileged \
    --endpoint-reconciler-type none
  wait_for kube-apiserver 300 k get --raw /readyz
  start kube-controller-manager "$K8S_BIN/kube-controller-manager" \
    --kubeconfig "$E2E_DIR/controller-manager.conf" --authentication-kubeconfig "$E2E_DIR/controller-manager.conf" \
    --authorization-kubeconfig "$E2E_DIR/controller-manager.conf" --bind-address 127.0.0.1 \
    --leader-elect=false --use-service-account-credentials --root-ca-file "$p/ca.crt" \
    --service-account-private-key-file "$p/sa.key" --service-cluster-ip-range "$SERVICE_CIDR" \
    --cluster-signing-cert-file "$p/ca.crt" --cluster-signing-key-file "$p/ca.key"
  start kube-scheduler "$K8S_BIN/kube-scheduler" \
    --kubeconfig "$E2E_DIR/scheduler.conf" --authentication-kubeconfig "$E2E_DIR/scheduler.conf" \
    --authorization-kubeconfig "$E2E_DIR/scheduler.conf" --bind-address 127.0.0.1 --leader-elect=false
}

start_containerd() {
  local d=$E2E_DIR/containerd
  mkdir -p "$d" "$E2E_DIR/cni"
  # The bridge network exists only so that the runtime reports its network
  # ready; the backup pod uses the host's (here: the namespace's) network.
  cat >"$E2E_DIR/cni/10-e2e.conflist" <<EOF
{"cniVersion": "0.4.0", "name": "e2e", "plugins": [
  {"type": "bridge", "bridge": "e2e0", "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.244.0.0/24"}]]}},
  {"type": "loopback"}]}
EOF
  # restrict_oom_score_adj: the kubelet asks for negative OOM scores, which a
  # process may only set where it is allowed to lower its own; containers get
  # at least containerd's score instead.
  cat >"$d/config.toml" <<EOF
version = 2
root = "$d/root"
state = "$d/state"
[grpc]
  address = "$d/containerd.sock"
[ttrpc]
  address = "$d/containerd.sock.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "$d/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$E2E_DIR/cni"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
EOF
  start containerd containerd --config "$d/config.toml"
  wait_for containerd 60 ctr_ns version
}

# import_image ARCHIVE: a docker-archive tarball into containerd's k8s.io
# namespace, where the kubelet finds it (imagePullPolicy IfNotPresent/Never).
import_image() {
  ctr_ns images import --no-unpack=false "$1" >/dev/null
}

# build_pause_image: an image holding only the pause binary.
build_pause_image() {
  local ctx=$E2E_DIR/pause-image
  mkdir -p "$ctx"
  cp "$PAUSE_BIN" "$ctx/pause"
  printf 'FROM scratch\nCOPY pause /pause\nENTRYPOINT ["/pause"]\n' >"$ctx/Containerfile"
  buildah --storage-driver vfs bud --quiet --isolation chroot -t "$PAUSE_IMAGE" -f "$ctx/Containerfile" "$ctx" >/dev/null
  buildah --storage-driver vfs push --quiet "$PAUSE_IMAGE" "docker-archive:$ctx/pause.tar:$PAUSE_IMAGE"
  import_image "$ctx/pause.tar"
}

# make_cgroup_root: the kubelet's cgroup root in every v1 hierarchy (the
# kubelet refuses a root that does not exist); cpuset needs its CPUs and memory
# nodes set before anything can join it.
make_cgroup_root() {
  local h
  for h in /sys/fs/cgroup/*/; do
    [ -f "$h/cgroup.procs" ] || continue
    mkdir -p "$h$CGROUP_ROOT"
  done
  if [ -f /sys/fs/cgroup/cpuset/cpuset.cpus ]; then
    cat /sys/fs/cgroup/cpuset/cpuset.cpus >"/sys/fs/cgroup/cpuset$CGROUP_ROOT/cpuset.cpus"
    cat /sys/fs/cgroup/cpuset/cpuset.mems >"/sys/fs/cgroup/cpuset$CGROUP_ROOT/cpuset.mems"
  fi
}

start_kubelet() {
  local own_oom
  own_oom=$(cat /proc/self/oom_score_adj)
  make_cgroup_root
  mkdir -p "$E2E_DIR/kubelet" "$E2E_DIR/pod-logs"
  cat >"$E2E_DIR/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $E2E_DIR/pki/ca.crt}
authorization: {mode: Webhook}
containerRuntimeEndpoint: unix://$E2E_DIR/containerd/containerd.sock
cgroupDriver: cgroupfs
cgroupRoot: $CGROUP_ROOT
failCgroupV1: false
failSwapOn: false
oomScoreAdj: $own_oom
podLogsDir: $E2E_DIR/pod-logs
resolvConf: ""
registerNode: true
# The machine's disk is shared: never evict the test's pods for what others use.
evictionHard: {memory.available: "50Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
EOF
  start kubelet "$K8S_BIN/kubelet" --config "$E2E_DIR/kubelet.yaml" --kubeconfig "$E2E_DIR/kubelet.conf" \
    --root-dir "$E2E_DIR/kubelet" --cert-dir "$E2E_DIR/kubelet/pki" \
    --hostname-override "$NODE_NAME" --node-ip "$NODE_IP"
  wait_for "node $NODE_NAME registered" 180 k get node "$NODE_NAME"
  # What kubeadm does to a control-plane node after it joins.
  k label node "$NODE_NAME" node-role.kubernetes.io/control-plane= node.kubernetes.io/exclude-from-external-load-balancers= >/dev/null
  k taint node "$NODE_NAME" node-role.kubernetes.io/control-plane:NoSchedule >/dev/null
  wait_for "node $NODE_NAME Ready" 180 k wait --for=condition=Ready "node/$NODE_NAME" --timeout=1s
}

cluster_up() {
  local start=$SECONDS
  mkdir -p "$E2E_DIR"
  make_pki
  make_netns
  start_etcd
  start_control_plane
  start_containerd
  build_pause_image
  start_kubelet
  clog "up in $((SECONDS - start))s: $(k get node "$NODE_NAME" --no-headers)"
}

# stop NAME: SIGTERM, then SIGKILL after 10 s, of the process started as NAME
# (and its process group: setsid made it a leader).
stop() {
  local pidfile=$E2E_DIR/pids/$1 pid i
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  kill -TERM -- "-$pid" 2>/dev/null || true
  for i in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    [ "$i" -lt 100 ] && sleep 0.1
  done
  kill -KILL -- "-$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

# containers_down: every container and shim containerd started, then their cgroups.
containers_down() {
  local shim
  if [ -S "$E2E_DIR/containerd/containerd.sock" ]; then
    ctr_ns tasks ls -q 2>/dev/null | while read -r id; do ctr_ns tasks kill -s KILL "$id" >/dev/null 2>&1 || true; done
  fi
  # A shim outlives containerd by design; find ours by their socket directory.
  for shim in $(pgrep -f "containerd-shim-runc-v2 .*-address $E2E_DIR/containerd/containerd.sock" || true); do
    kill -KILL "$shim" 2>/dev/null || true
  done
  local cg
  for cg in /sys/fs/cgroup/*"$CGROUP_ROOT"; do
    [ -d "$cg" ] && find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null
  done
  return 0
}

cluster_down() {
  [ -n "${E2E_DIR:-}" ] || return 0
  local name
  stop kubelet
  containers_down
  for name in containerd kube-scheduler kube-controller-manager kube-apiserver etcd versitygw; do stop "$name"; done
  # Mounts the kubelet and containerd made under the scratch directory.
  grep -o " $E2E_DIR/[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  if ip netns list | grep -qx "$E2E_NETNS\( .*\)\?"; then ip netns delete "$E2E_NETNS"; fi
  # The kubelet links container logs from a fixed directory.
  [ ! -d /var/log/containers ] || find /var/log/containers -lname "$E2E_DIR/*" -delete
  buildah --storage-driver vfs rmi -f "$PAUSE_IMAGE" >/dev/null 2>&1 || true
}
