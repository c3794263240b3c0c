#!/usr/bin/env bash
# Installs real etcd servers of every minor the restore tests cover, into
# $TOOLS_DIR/bin (default .tools/bin in the repository) as etcd-3.4 ... etcd-3.7:
#   3.4  Debian's etcd-server package (apt-get download + dpkg-deb -x: nothing
#        is installed system-wide and no service is started)
#   3.5+ built from the Go module proxy: a two-line main calling
#        go.etcd.io/etcd/server/v3/etcdmain.Main in a throwaway module
#        (`go install pkg@version` refuses modules with replace directives)
# and etcdctl of the newest of those minors as etcdctl-<minor> (the runbook's checks).
# A server already installed at the pinned version is left alone. A server
# that cannot be installed is reported and the script goes on: its tests skip
# with that reason, and fail when CI=true.
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS_DIR=${TOOLS_DIR:-$PWD/.tools}
ETCD_VERSIONS=(v3.5.35 v3.6.16 v3.7.3)

mkdir -p "$TOOLS_DIR/bin"
TOOLS_DIR=$(cd "$TOOLS_DIR" && pwd)
failed=()

installed() { # NAME VERSION
  [ -x "$TOOLS_DIR/bin/$1" ] && [ "$(cat "$TOOLS_DIR/bin/.$1.version" 2>/dev/null)" = "$2" ]
}

install_debian_etcd() {
  local name=etcd-3.4
  local version
  version=$(apt-cache policy etcd-server 2>/dev/null | awk '/Candidate:/ {print $2}') || version=""
  if [ -z "$version" ] || [ "$version" = "(none)" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      apt-get update -qq || true
      version=$(apt-cache policy etcd-server 2>/dev/null | awk '/Candidate:/ {print $2}') || version=""
    fi
  fi
  case "$version" in
  3.4.*) ;;
  *)
    echo "no etcd 3.4 package (etcd-server candidate: ${version:-none}); the 3.4 restore tests will be skipped (or fail under CI=true)" >&2
    failed+=("$name")
    return 0
    ;;
  esac
  if installed "$name" "$version"; then
    return 0
  fi
  echo "installing $name $version (Debian etcd-server)"
  local tmp
  tmp=$(mktemp -d)
  chmod 755 "$tmp" # apt-get download runs as _apt where it can
  if (cd "$tmp" && apt-get download -qq "etcd-server=$version" >/dev/null && dpkg-deb -x etcd-server_*.deb root) &&
    [ -x "$tmp/root/usr/bin/etcd" ]; then
    cp "$tmp/root/usr/bin/etcd" "$TOOLS_DIR/bin/$name"
    echo "$version" >"$TOOLS_DIR/bin/.$name.version"
  else
    echo "could not install $name $version" >&2
    failed+=("$name")
  fi
  rm -rf "$tmp"
}

install_built_etcd() { # VERSION (vMAJOR.MINOR.PATCH)
  local version=$1
  local minor=${version#v}
  minor=${minor%.*}
  local name=etcd-$minor
  if installed "$name" "$version"; then
    return 0
  fi
  echo "building $name $version from the Go module proxy"
  local start=$SECONDS tmp
  tmp=$(mktemp -d)
  cat >"$tmp/main.go" <<'EOF'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
EOF
  if (cd "$tmp" && go mod init etcdbuild >/dev/null 2>&1 &&
    GOFLAGS=-mod=mod go get "go.etcd.io/etcd/server/v3@$version" >/dev/null 2>&1 &&
    GOFLAGS=-mod=mod go mod tidy >/dev/null 2>&1 &&
    CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags '-s -w' -o "$TOOLS_DIR/bin/$name.tmp" .); then
    mv "$TOOLS_DIR/bin/$name.tmp" "$TOOLS_DIR/bin/$name"
    echo "$version" >"$TOOLS_DIR/bin/.$name.version"
    echo "built $name $version in $((SECONDS - start))s"
  else
    echo "could not build $name $version; its restore tests will be skipped (or fail under CI=true)" >&2
    rm -f "$TOOLS_DIR/bin/$name.tmp"
    failed+=("$name")
  fi
  rm -rf "$tmp"
}

# install_built_etcdctl VERSION: etcdctl's main package, built from its module
# as a dependency of a throwaway module (its replace directives do not apply).
install_built_etcdctl() {
  local version=$1
  local minor=${version#v}
  minor=${minor%.*}
  local name=etcdctl-$minor
  if installed "$name" "$version"; then
    return 0
  fi
  echo "building $name $version from the Go module proxy"
  local tmp
  tmp=$(mktemp -d)
  if (cd "$tmp" && go mod init etcdctlbuild >/dev/null 2>&1 &&
    GOFLAGS=-mod=mod go get "go.etcd.io/etcd/etcdctl/v3@$version" >/dev/null 2>&1 &&
    CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath -buildvcs=false -ldflags '-s -w' -o "$TOOLS_DIR/bin/$name.tmp" go.etcd.io/etcd/etcdctl/v3); then
    mv "$TOOLS_DIR/bin/$name.tmp" "$TOOLS_DIR/bin/$name"
    echo "$version" >"$TOOLS_DIR/bin/.$name.version"
    echo "built $name $version"
  else
    echo "could not build $name $version; the runbook test will be skipped (or fail under CI=true)" >&2
    rm -f "$TOOLS_DIR/bin/$name.tmp"
    failed+=("$name")
  fi
  rm -rf "$tmp"
}

install_debian_etcd
for v in "${ETCD_VERSIONS[@]}"; do
  install_built_etcd "$v"
done
install_built_etcdctl v3.6.16

if [ ${#failed[@]} -gt 0 ]; then
  echo "etcd servers not installed: ${failed[*]}" >&2
fi
