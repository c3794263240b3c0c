#!/usr/bin/env bash
# What `make test` runs: installs the test servers into .tools/, then every Go test.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -x ci/install-test-servers.sh ]; then
  ci/install-test-servers.sh
fi
go test -count=1 -timeout 30m ./...
