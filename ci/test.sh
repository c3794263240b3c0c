#!/usr/bin/env bash
# What `make test` runs: installs the test servers and the Prometheus tools
# (pushgateway, promtool) into .tools/, then every
# Go test: the root module, and the chart tests, which are a module of their
# own (the Helm SDK needs a newer etcd than the one the backup job links).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -x ci/install-test-servers.sh ]; then
  ci/install-test-servers.sh
fi
if [ -x ci/install-prometheus-tools.sh ]; then
  ci/install-prometheus-tools.sh
fi
go test -count=1 -timeout 30m ./...
(cd internal/chart && go test -count=1 -timeout 10m ./...)
