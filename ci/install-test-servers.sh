#!/usr/bin/env bash
# Installs the object-storage servers the tests start on 127.0.0.1, into
# $TOOLS_DIR (default .tools/ in the repository):
#   versitygw       S3, built from the Go module proxy (posix backend)
#   fake-gcs-server GCS JSON API, built from the Go module proxy
#   azurite         Azure Blob, from the npm registry
# A server already installed at the pinned version is left alone, so a second
# run takes a moment. A server that cannot be installed is reported and the
# script goes on: its tests skip with that reason, and fail when CI=true.
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS_DIR=${TOOLS_DIR:-$PWD/.tools}
VERSITYGW_VERSION=v1.8.0
FAKE_GCS_SERVER_VERSION=v1.56.1
AZURITE_VERSION=3.35.0 # the newest release that supports Node 20; 3.36 needs Node 21+

mkdir -p "$TOOLS_DIR/bin"
TOOLS_DIR=$(cd "$TOOLS_DIR" && pwd) # go install needs an absolute GOBIN
failed=()

# install_go NAME PACKAGE VERSION: go install PACKAGE@VERSION as $TOOLS_DIR/bin/NAME.
install_go() {
  local name=$1 pkg=$2 version=$3
  local stamp="$TOOLS_DIR/bin/.$name.version"
  if [ -x "$TOOLS_DIR/bin/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then
    return 0
  fi
  echo "installing $name $version (go install $pkg@$version)"
  local start=$SECONDS
  # Built outside this module: the server's own go.mod decides its dependencies.
  if (cd "$TOOLS_DIR" && GOBIN="$TOOLS_DIR/bin" GOFLAGS=-buildvcs=false go install "$pkg@$version"); then
    echo "$version" >"$stamp"
    echo "installed $name $version in $((SECONDS - start))s"
  else
    echo "could not install $name $version; its tests will be skipped (or fail under CI=true)" >&2
    failed+=("$name")
  fi
}

install_azurite() {
  local dir="$TOOLS_DIR/azurite"
  local pkg="$dir/node_modules/azurite/package.json" installed=""
  if [ -f "$pkg" ] && command -v node >/dev/null; then
    installed=$(node -p "JSON.parse(require('fs').readFileSync(process.argv[1])).version" "$pkg" 2>/dev/null) || installed=""
  fi
  if [ "$installed" = "$AZURITE_VERSION" ] && [ -e "$dir/node_modules/.bin/azurite-blob" ]; then
    return 0
  fi
  if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "installing nodejs and npm from Debian for azurite"
      if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; }; then
        echo "apt-get could not install nodejs and npm" >&2
      fi
    fi
  fi
  if ! command -v npm >/dev/null; then
    echo "npm not found: cannot install azurite; the Azure tests will be skipped (or fail under CI=true)" >&2
    failed+=(azurite)
    return 0
  fi
  echo "installing azurite $AZURITE_VERSION (npm)"
  local start=$SECONDS
  mkdir -p "$dir"
  if npm install --prefix "$dir" --no-audit --no-fund --save-exact --loglevel=error "azurite@$AZURITE_VERSION"; then
    echo "installed azurite $AZURITE_VERSION in $((SECONDS - start))s"
  else
    echo "could not install azurite $AZURITE_VERSION; the Azure tests will be skipped (or fail under CI=true)" >&2
    failed+=(azurite)
  fi
}

install_go versitygw github.com/versity/versitygw/cmd/versitygw "$VERSITYGW_VERSION"
install_go fake-gcs-server github.com/fsouza/fake-gcs-server "$FAKE_GCS_SERVER_VERSION"
install_azurite

if [ ${#failed[@]} -gt 0 ]; then
  echo "test servers not installed: ${failed[*]}" >&2
fi
exit 0
