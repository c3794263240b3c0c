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

# Options per package, each with its reason. destination: the local paths
# (local.go, destination.go); the object storage code is tested against the
# emulators, too slow to run once per mutant, so its tests are left out by
# the tag localonly and bucket.go is not mutated.
declare -A OPTIONS=(
	[destination]="--tags localonly --exclude-files bucket\.go$"
)

failed=()
for p in ${PACKAGES}; do
	start=$SECONDS
	echo "mutation: internal/${p}"
	# gremlins finds the module from the working directory: run from the root.
	# The timeout coefficient is generous: the machine is shared and a
	# mutant that times out counts as killed, which must not hide a survivor.
	if ! "${bin}" unleash --threshold-efficacy "${THRESHOLD}" --timeout-coefficient 10 ${OPTIONS[$p]:-} "./internal/${p}"; then
		failed+=("${p}")
	fi
	echo "mutation: internal/${p}: $((SECONDS - start))s"
done
if [ "${#failed[@]}" -gt 0 ]; then
	echo "mutation: below ${THRESHOLD}% test efficacy (or failed): ${failed[*]}"
	exit 1
fi
echo "mutation: every package at or above ${THRESHOLD}% test efficacy"
