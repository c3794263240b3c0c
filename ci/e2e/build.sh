#!/usr/bin/env bash
# Builds everything the end-to-end cluster runs, from the Go module proxy, into
# $TOOLS_DIR (default .tools/), each under a directory named for its version so
# that a warm run reuses it:
#   k8s/<version>/      kube-apiserver, kube-controller-manager, kube-scheduler,
#                       kubelet, kubectl at the release pinned in ci/e2e/k8s/go.mod
#   e2e/helm-<version>/ helm, at the Helm SDK version the chart tests use
#   e2e/etcd-<version>/ etcd, at the etcd version of the project's go.mod
#   e2e/bin/            pause (the sandbox image's binary)
# Prints `export NAME=path` lines for ci/e2e/run.sh to eval.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
TOOLS_DIR=${TOOLS_DIR:-$root/.tools}
mkdir -p "$TOOLS_DIR"
TOOLS_DIR=$(cd "$TOOLS_DIR" && pwd)

log() { printf 'e2e build: %s\n' "$*" >&2; }

# Unstamped Kubernetes builds call themselves v0.0.0-master, which Helm's
# kubeVersion checks refuse; stamp them as the release's own build does
# (hack/lib/version.sh).
k8s_ldflags() {
  local version=$1 major minor pkg flags="-s -w"
  major=${version#v}
  major=${major%%.*}
  minor=${version#v"$major".}
  minor=${minor%%.*}
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
    flags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  echo "$flags"
}

# build_into DIR CMD... : runs CMD with $out set to a scratch directory, then
# moves it to DIR, so an interrupted build never leaves a half-filled DIR.
build_into() {
  local dir=$1 start=$SECONDS
  shift
  out="$dir.partial"
  rm -rf "$out"
  mkdir -p "$out"
  "$@"
  rm -rf "$dir"
  mv "$out" "$dir"
  log "built $(basename "$dir") in $((SECONDS - start))s"
}

build_k8s() {
  local version dir
  version=$(cd "$here/k8s" && go list -m -f '{{.Version}}' k8s.io/kubernetes)
  dir="$TOOLS_DIR/k8s/$version"
  if [ ! -x "$dir/kubectl" ] || [ ! -x "$dir/kubelet" ] || [ ! -x "$dir/kube-apiserver" ] ||
    [ ! -x "$dir/kube-controller-manager" ] || [ ! -x "$dir/kube-scheduler" ]; then
    log "building Kubernetes $version (kube-apiserver alone takes about 10 CPU-minutes cold)"
    build_into "$dir" k8s_build "$version"
  fi
  echo "export K8S_BIN=$dir K8S_VERSION=$version"
}
k8s_build() {
  (cd "$here/k8s" && CGO_ENABLED=0 go build -trimpath -ldflags "$(k8s_ldflags "$1")" -o "$out/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kubectl)
}

build_helm() {
  local version dir
  version=$(cd "$root/internal/chart" && go list -m -f '{{.Version}}' helm.sh/helm/v3)
  dir="$TOOLS_DIR/e2e/helm-$version"
  if [ ! -x "$dir/helm" ]; then
    log "building helm $version"
    build_into "$dir" helm_build "$version"
  fi
  echo "export HELM=$dir/helm"
}
helm_build() {
  local version=$1 k8s_version major minor
  # Helm's default Kubernetes version (for `helm template` and lint) comes
  # from its client-go, as in Helm's own Makefile.
  k8s_version=$(cd "$root/internal/chart" && go list -m -f '{{.Version}}' k8s.io/client-go)
  minor=${k8s_version#v0.}
  minor=${minor%%.*}
  major=1
  GOBIN="$out" CGO_ENABLED=0 go install -trimpath -ldflags "-s -w \
    -X helm.sh/helm/v3/internal/version.version=$version \
    -X helm.sh/helm/v3/internal/version.gitTreeState=clean \
    -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=$major -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$minor \
    -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=$major -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$minor" \
    "helm.sh/helm/v3/cmd/helm@$version"
}

build_etcd() {
  local version dir
  version=$(cd "$root" && go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3)
  dir="$TOOLS_DIR/e2e/etcd-$version"
  if [ ! -x "$dir/etcd" ]; then
    log "building etcd $version"
    build_into "$dir" etcd_build "$version"
  fi
  echo "export ETCD=$dir/etcd"
}
etcd_build() {
  # etcd's modules replace each other with relative paths, so `go install
  # module@version` refuses them; a scratch module requiring the server builds it.
  local mod
  mod=$(mktemp -d)
  (cd "$mod" && go mod init etcd-e2e >/dev/null 2>&1 &&
    go get "go.etcd.io/etcd/server/v3@$1" >/dev/null 2>&1 &&
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$out/etcd" go.etcd.io/etcd/server/v3)
  rm -rf "$mod"
}

build_helpers() {
  local dir="$TOOLS_DIR/e2e/bin"
  mkdir -p "$dir"
  # Small and cached by the Go build cache: rebuilt every run.
  (cd "$here/k8s" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$dir/pause" ./cmd/pause)
  echo "export PAUSE_BIN=$dir/pause"
}

# Arguments name a subset (helpers etcd helm k8s); none means all.
if [ $# -eq 0 ]; then set -- helpers etcd helm k8s; fi
for step in "$@"; do "build_$step"; done
