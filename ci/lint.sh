#!/usr/bin/env bash
# What `make lint` runs: gofmt, go vet, staticcheck, shellcheck, helm lint and
# actionlint (the CI workflows, which never run on this kind of machine).
# Tools are pinned and installed into .tools/ on first use. Every check runs
# even when an earlier one fails, so one run shows every finding; the exit
# status is 1 when any check failed.
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS_DIR="${TOOLS_DIR:-$(pwd)/.tools}"
# staticcheck 2026.2.2; its module version is what `go install` needs.
STATICCHECK_VERSION=v0.8.2
ACTIONLINT_VERSION=v1.7.12

# The repository holds more than one Go module (the chart tests are one of
# their own); vet and staticcheck run in each.
mapfile -t MODULES < <(git ls-files --cached --others --exclude-standard -- go.mod '*/go.mod' | xargs -n1 dirname | sort -u)

failed=()
check() {
	local name="$1"
	shift
	echo "lint: ${name}"
	if "$@"; then
		echo "lint: ${name}: ok"
	else
		echo "lint: ${name}: FAILED"
		failed+=("${name}")
	fi
}

as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

gofmt_clean() {
	local files out
	# Tracked and new Go files; .tools/ and other ignored paths stay out.
	mapfile -t files < <(git ls-files --cached --others --exclude-standard -- '*.go')
	[ "${#files[@]}" -gt 0 ] || return 0
	# Under `check` set -e is off: a file gofmt cannot parse must fail too.
	out="$(gofmt -l "${files[@]}")" || return 1
	if [ -n "${out}" ]; then
		echo "not gofmt-formatted (run gofmt -w on them):"
		echo "${out}"
		return 1
	fi
}

# go install into a directory named for the version, so changing a pin
# installs the new version instead of reusing the old binary.
go_tool() {
	local module="$1" version="$2" bin
	bin="${TOOLS_DIR}/$(basename "${module}")-${version}/$(basename "${module}")"
	if [ ! -x "${bin}" ]; then
		echo "installing ${module}@${version} into ${TOOLS_DIR}" >&2
		GOBIN="$(dirname "${bin}")" go install "${module}@${version}" >&2 || return 1
	fi
	echo "${bin}"
}

# Runs a command in every module; fails when it fails in any.
in_modules() {
	local m rc=0
	for m in "${MODULES[@]}"; do
		(cd "${m}" && "$@") || { echo "(in module ${m})"; rc=1; }
	done
	return "${rc}"
}

staticcheck_run() {
	local bin
	bin="$(go_tool honnef.co/go/tools/cmd/staticcheck "${STATICCHECK_VERSION}")" || return 1
	in_modules "${bin}" ./...
}

shellcheck_run() {
	if ! command -v shellcheck >/dev/null 2>&1; then
		echo "installing shellcheck from Debian packages"
		as_root apt-get update -qq || return 1
		as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck >/dev/null || return 1
	fi
	shellcheck ci/*.sh ci/e2e/*.sh .ci/run
}

# Runs shellcheck on the workflows' run: steps too, so shellcheck goes first.
actionlint_run() {
	local bin
	bin="$(go_tool github.com/rhysd/actionlint/cmd/actionlint "${ACTIONLINT_VERSION}")" || return 1
	"${bin}"
}

# The chart's Go tests lint it with the Helm SDK (the same code as
# `helm lint`), so that needs no helm binary. A run in which no test matched
# would pass silently, so ask go test for the list and require a pass.
helm_lint() {
	if [ ! -f charts/etcd-backup/Chart.yaml ]; then
		echo "no chart at charts/etcd-backup/Chart.yaml"
		return 1
	fi
	local out
	if ! out="$(cd internal/chart && go test -count=1 -run Lint -v . 2>&1)"; then
		echo "${out}"
		return 1
	fi
	if ! grep -q -- '^--- PASS: .*Lint' <<<"${out}"; then
		echo "${out}"
		echo "no Lint test ran in internal/chart"
		return 1
	fi
	grep -- '^--- PASS' <<<"${out}"
}

check gofmt gofmt_clean
check "go vet" in_modules go vet ./...
check staticcheck staticcheck_run
check shellcheck shellcheck_run
check "helm lint" helm_lint
check actionlint actionlint_run

if [ "${#failed[@]}" -gt 0 ]; then
	echo "lint: failed: ${failed[*]}"
	exit 1
fi
echo "lint: all checks passed"
