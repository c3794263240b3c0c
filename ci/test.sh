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
pkgs=$(go list ./...)
# internal/cgrouptest creates a memory cgroup and needs root; as another user
# with password-less sudo (GitHub's runners) its test binary and the two
# binaries (backup-job, and backup-restore beside it for the drill) are built
# as this user and run as root.
if [ "$(id -u)" != 0 ] && sudo -n true 2>/dev/null; then
  bindir=$(mktemp -d)
  trap 'rm -rf "$bindir"' EXIT
  go test -c -o "$bindir/cgrouptest.test" ./internal/cgrouptest
  CGO_ENABLED=0 go build -trimpath -tags "$(cat build/go-tags)" -o "$bindir/backup-job" ./cmd/backup-job
  CGO_ENABLED=0 go build -trimpath -tags "$(cat build/go-tags)" -o "$bindir/backup-restore" ./cmd/backup-restore
  (cd internal/cgrouptest && sudo -n env CI="${CI:-}" PATH="$PATH" BACKUP_JOB_BINARY="$bindir/backup-job" \
    "$bindir/cgrouptest.test" -test.count=1 -test.timeout=10m)
  pkgs=$(grep -v '/internal/cgrouptest$' <<<"$pkgs")
fi
# shellcheck disable=SC2086 # one package per word
go test -count=1 -timeout 30m $pkgs
(cd internal/chart && go test -count=1 -timeout 10m ./...)
