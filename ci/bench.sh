#!/usr/bin/env bash
# What `make bench` runs: builds etcd, etcdctl and etcdutl at the etcd version
# the tests use (from the Go module proxy) into $TOOLS_DIR/bin, builds the
# benchmark, then runs it against bin/backup-job (built by make first).
#   BENCH_SIZE        database size (default 1GiB; e.g. 4GiB)
#   BENCH_ROUNDS      rounds, each running every contender once (default 5)
#   BENCH_VALUE_SIZE  bytes per value when filling (default 8192)
# Arguments go to the benchmark, e.g. -compare before=/path/to/backup-job to
# measure another build in the same run (see .tools/bin/bench -help).
# A filled data directory is kept in $TOOLS_DIR/bench-data, keyed by size and
# value size, so only the first run at a size pays for the fill.
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS_DIR=${TOOLS_DIR:-$PWD/.tools}
ETCD_VERSION=$(go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3)
mkdir -p "$TOOLS_DIR/bin"

stamp="$TOOLS_DIR/bin/.etcd-bench.version"
if [ "$(cat "$stamp" 2>/dev/null)" != "$ETCD_VERSION" ] ||
  [ ! -x "$TOOLS_DIR/bin/etcd" ] || [ ! -x "$TOOLS_DIR/bin/etcdctl" ] || [ ! -x "$TOOLS_DIR/bin/etcdutl" ]; then
  echo "building etcd, etcdctl, etcdutl $ETCD_VERSION"
  start=$SECONDS
  # A throwaway module: `go install pkg@version` refuses these modules
  # because of their replace directives, and the backup job's own go.mod
  # must not grow etcd's command-line tools. Each is built with the
  # dependencies its release pins.
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  (
    cd "$work"
    go mod init etcd-bench-tools >/dev/null 2>&1
    go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" "go.etcd.io/etcd/etcdctl/v3@$ETCD_VERSION" "go.etcd.io/etcd/etcdutl/v3@$ETCD_VERSION" >/dev/null 2>&1
    go build -trimpath -o "$TOOLS_DIR/bin/etcd" go.etcd.io/etcd/server/v3
    go build -trimpath -o "$TOOLS_DIR/bin/" go.etcd.io/etcd/etcdctl/v3 go.etcd.io/etcd/etcdutl/v3
  )
  echo "$ETCD_VERSION" >"$stamp"
  echo "built in $((SECONDS - start))s"
fi

go build -o "$TOOLS_DIR/bin/bench" ./cmd/bench
exec "$TOOLS_DIR/bin/bench" -tools "$TOOLS_DIR" -backup-job bin/backup-job \
  -size "${BENCH_SIZE:-1GiB}" -rounds "${BENCH_ROUNDS:-5}" -value-size "${BENCH_VALUE_SIZE:-8192}" "$@"
