#!/usr/bin/env bash
# What `make test` runs: installs the test servers, the Prometheus tools
# (pushgateway, promtool) and real etcd 3.4 to 3.7 (for the restore tests)
# into .tools/, then every Go test: the root module, and the chart tests,
# which are a module of their own (the Helm SDK needs a newer etcd than the
# one the backup job links).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -x ci/install-test-servers.sh ]; then
  ci/install-test-servers.sh
fi
if [ -x ci/install-prometheus-tools.sh ]; then
  ci/install-prometheus-tools.sh
fi
# Built once, cached in .tools/.
if [ -x ci/install-etcd-servers.sh ]; then
  ci/install-etcd-servers.sh
fi
go test -count=1 -timeout 30m ./...
(cd internal/chart && go test -count=1 -timeout 10m ./...)
