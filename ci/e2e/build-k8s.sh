#!/usr/bin/env bash
# Builds the Kubernetes binaries of the end-to-end cluster (kube-apiserver,
# kube-controller-manager, kube-scheduler, kubelet, kubectl) from the Go module
# proxy, at the release pinned in ci/e2e/k8s/go.mod, into
# $TOOLS_DIR/k8s/<version>/. A directory already holding every binary of that
# version is reused, so a warm run costs nothing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
TOOLS_DIR=${TOOLS_DIR:-$here/../../.tools}
mkdir -p "$TOOLS_DIR"
TOOLS_DIR=$(cd "$TOOLS_DIR" && pwd)

version=$(cd "$here/k8s" && go list -m -f '{{.Version}}' k8s.io/kubernetes)
out="$TOOLS_DIR/k8s/$version"
cmds=(kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl)

missing=()
for c in "${cmds[@]}"; do [ -x "$out/$c" ] || missing+=("$c"); done
if [ ${#missing[@]} -eq 0 ]; then
  echo "$out"
  exit 0
fi

# Unstamped builds call themselves v0.0.0-master, which Helm's kubeVersion
# checks and kubectl's version skew warnings refuse; stamp them as the
# release's own build does (hack/lib/version.sh).
major=${version#v}; major=${major%%.*}
minor=${version#v"$major".}; minor=${minor%%.*}
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

echo "building ${missing[*]} $version into $out" >&2
start=$SECONDS
mkdir -p "$out.partial"
pkgs=()
for c in "${missing[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
(cd "$here/k8s" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$out.partial/" "${pkgs[@]}")
mkdir -p "$out"
for c in "${missing[@]}"; do mv "$out.partial/$c" "$out/$c"; done
rmdir "$out.partial"
echo "built ${missing[*]} in $((SECONDS - start))s" >&2
echo "$out"
