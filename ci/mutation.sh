#!/usr/bin/env bash
# What `make mutation` runs: gremlins (mutation testing) over the packages
# whose tests are fast, one package at a time (each mutant runs the package's
# tests; two cores are enough only if packages do not compete). A package
# whose test efficacy (killed / (killed + lived)) is below the threshold
# fails the run. MUTATION_PACKAGES overrides the list, e.g. for one package.
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS_DIR="${TOOLS_DIR:-$(pwd)/.tools}"
GREMLINS_VERSION=v0.6.0
THRESHOLD="${MUTATION_THRESHOLD:-90}"
PACKAGES="${MUTATION_PACKAGES:-prune config verify retry destination snapname location}"

# Installed into a directory named for the version, so changing the pin
# installs the new version instead of reusing the old binary.
bin="${TOOLS_DIR}/gremlins-${GREMLINS_VERSION}/gremlins"
if [ ! -x "${bin}" ]; then
	echo "mutation: installing gremlins ${GREMLINS_VERSION} into ${TOOLS_DIR}"
	GOBIN="$(dirname "${bin}")" go install "github.com/go-gremlins/gremlins/cmd/gremlins@${GREMLINS_VERSION}"
fi

# Tests run per mutant, for packages whose other tests need servers and take
# too long to run once per mutant; the mutated files are the ones those tests
# own. Given through GOFLAGS, which gremlins' go test inherits.
#   destination: the local paths (local.go, destination.go); the object
#     storage code is tested against the emulators and not mutated here.
#   backup: the run's fast tests (snapshots built in the test, local
#     directories and file:// buckets); not in the default list: see README.
declare -A RUN=(
	[destination]='^(TestLocal|TestOpenLocal|TestStale|TestSDKStatusReachesRetry)$'
	[backup]='^(TestUnverifiedSnapshotIsNeitherStoredNorPrunedFor|TestEveryDirectoryFailsMidWrite|TestObjectStorageOnlyVerifiesInWorkDir|TestPruneOnlyWhereThisRunStored|TestRetryAfterPartialStream|TestTerminationMessageStaysValidJSON|TestTerminationMessageAtTheLimit|TestShortenKeepsWhatFits)$'
)
declare -A OPTIONS=(
	[destination]='--exclude-files bucket\.go$'
)

failed=()
for p in ${PACKAGES}; do
	start=$SECONDS
	echo "mutation: internal/${p}"
	# gremlins finds the module from the working directory: run from the root.
	# The timeout coefficient is generous: on a busy machine a test run
	# that is merely slow must not be taken for a mutant that hangs.
	run="${RUN[$p]:-}"
	out="$(mktemp)"
	# gremlins v0.6.0 exits 0 whatever its --threshold-efficacy says: the
	# threshold is checked here, on the figure it prints.
	# shellcheck disable=SC2086 # OPTIONS holds several words
	if ! GOFLAGS="${GOFLAGS:-}${run:+ -run=${run}}" "${bin}" unleash \
		--timeout-coefficient 10 ${OPTIONS[$p]:-} "./internal/${p}" | tee "${out}"; then
		failed+=("${p} (gremlins failed)")
	elif ! awk -v min="${THRESHOLD}" '/^Test efficacy:/ { sub("%", "", $3); found = 1; ok = ($3 + 0 >= min) } END { exit !(found && ok) }' "${out}"; then
		failed+=("${p}")
	fi
	rm -f "${out}"
	echo "mutation: internal/${p}: $((SECONDS - start))s"
done
if [ "${#failed[@]}" -gt 0 ]; then
	echo "mutation: below ${THRESHOLD}% test efficacy (or failed): ${failed[*]}"
	exit 1
fi
echo "mutation: every package at or above ${THRESHOLD}% test efficacy"
