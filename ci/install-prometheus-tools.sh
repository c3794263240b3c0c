#!/usr/bin/env bash
# Installs the Prometheus tools the metrics and alert tests run, into
# $TOOLS_DIR/bin (default .tools/bin in the repository), built from the Go
# module proxy:
#   pushgateway  the tests push to it and scrape it
#   promtool     `promtool check rules` / `promtool test rules` on the chart's PrometheusRule
# A tool already built at the pinned version is left alone. Each is built in a
# throwaway module that requires it, rather than with `go install pkg@version`:
# that form also reads the module's version list (for deprecation notices),
# which a filtering proxy may refuse. A tool that cannot be built is reported
# and the script goes on: its tests skip, and fail under CI=true.
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS_DIR=${TOOLS_DIR:-$PWD/.tools}
PUSHGATEWAY_VERSION=v1.11.1
# The prometheus module tags releases as v0.x: v0.316.0 is Prometheus 3.16.0.
PROMETHEUS_VERSION=v0.316.0

mkdir -p "$TOOLS_DIR/bin"
TOOLS_DIR=$(cd "$TOOLS_DIR" && pwd)
failed=()

# build_go NAME MODULE VERSION PACKAGE [TAGS]: build PACKAGE of MODULE@VERSION as $TOOLS_DIR/bin/NAME.
build_go() {
  local name=$1 module=$2 version=$3 pkg=$4 tags=${5:-}
  local stamp="$TOOLS_DIR/bin/.$name.version"
  if [ -x "$TOOLS_DIR/bin/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then
    return 0
  fi
  echo "installing $name $version (go build $pkg from $module@$version)"
  local start=$SECONDS work
  work=$(mktemp -d)
  # The tool's own go.mod decides its dependencies: the throwaway module
  # requires nothing else, so minimal version selection picks the same ones.
  if (cd "$work" && go mod init "etcd-backup.tools/$name" >/dev/null 2>&1 &&
      go get "$pkg@$version" && GOFLAGS=-buildvcs=false go build -trimpath -tags "$tags" -o "$TOOLS_DIR/bin/$name.tmp" "$pkg") &&
    mv "$TOOLS_DIR/bin/$name.tmp" "$TOOLS_DIR/bin/$name"; then
    echo "$version" >"$stamp"
    echo "installed $name $version in $((SECONDS - start))s"
  else
    rm -f "$TOOLS_DIR/bin/$name.tmp"
    echo "could not install $name $version; its tests will be skipped (or fail under CI=true)" >&2
    failed+=("$name")
  fi
  rm -rf "$work"
}

build_go pushgateway github.com/prometheus/pushgateway "$PUSHGATEWAY_VERSION" github.com/prometheus/pushgateway
# remove_all_sd leaves out the cloud service discoveries (and their SDKs), which
# rule checks and tests never use: a fraction of the build time.
build_go promtool github.com/prometheus/prometheus "$PROMETHEUS_VERSION" github.com/prometheus/prometheus/cmd/promtool remove_all_sd

if [ ${#failed[@]} -gt 0 ]; then
  echo "Prometheus tools not installed: ${failed[*]}" >&2
fi
exit 0
