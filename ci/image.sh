#!/usr/bin/env bash
# Builds the container image and proves that it works.
#
#   ci/image.sh build   the image for this machine's architecture (make image)
#   ci/image.sh test    build it, then run it: `version`, `--help` and one full
#                       backup against a real etcd on 127.0.0.1 (make image-test)
#   ci/image.sh push    build linux/amd64 and linux/arm64 and push them as one
#                       multi-arch image (release workflow; log in first)
#
# The builder is docker buildx where a Docker engine answers, otherwise
# buildah with chroot isolation and the vfs storage driver, which need neither
# a daemon nor a registry (buildah is installed from Debian packages when
# missing). IMAGE_BUILDER=docker|buildah forces one.
#
# Other settings: IMAGE (default ghcr.io/etcd-backup/etcd-backup:<VERSION>),
# PUSH_PLATFORMS (default linux/amd64,linux/arm64), SOURCE_DATE_EPOCH
# (default: the commit time, so that one commit gives one image).
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION="$(cat VERSION)"
IMAGE="${IMAGE:-ghcr.io/etcd-backup/etcd-backup:${VERSION}}"
REVISION="$(git rev-parse HEAD 2>/dev/null || echo unknown)"
SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}"
PUSH_PLATFORMS="${PUSH_PLATFORMS:-linux/amd64,linux/arm64}"
MAX_IMAGE_BYTES=$((60 * 1000 * 1000))
MAKE="${MAKE:-make}"
# Every buildah call names the driver: images built with one driver are
# invisible to another, and vfs works anywhere, even inside a container.
BUILDAH=(buildah --storage-driver vfs)
BUILD_ARGS=(--build-arg "VERSION=${VERSION}" --build-arg "REVISION=${REVISION}")

log() { printf 'image: %s\n' "$*" >&2; }
die() {
	log "FAIL: $*"
	exit 1
}

as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

choose_builder() {
	case "${IMAGE_BUILDER:-auto}" in
	docker | buildah) echo "${IMAGE_BUILDER}" ;;
	auto)
		if command -v docker >/dev/null 2>&1 && timeout 30 docker info >/dev/null 2>&1; then
			echo docker
		else
			echo buildah
		fi
		;;
	*) die "IMAGE_BUILDER=${IMAGE_BUILDER}: accepted values are docker, buildah or auto" ;;
	esac
}

ensure_buildah() {
	if ! command -v buildah >/dev/null 2>&1; then
		log "installing buildah from Debian packages"
		as_root apt-get update -qq
		as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah >/dev/null
	fi
	# buildah refuses to write an image without a signature policy. Debian's
	# package ships one; a trimmed system may not have it. Nothing is pulled
	# (FROM scratch), so accepting anything changes nothing here.
	if [ ! -e /etc/containers/policy.json ]; then
		log "writing /etc/containers/policy.json"
		as_root mkdir -p /etc/containers
		printf '%s\n' '{"default": [{"type": "insecureAcceptAnything"}]}' |
			as_root tee /etc/containers/policy.json >/dev/null
	fi
}

# The binaries the image copies, built by the Makefile like every other binary.
build_binary() {
	"${MAKE}" --no-print-directory "bin/linux_$1/backup-job" "bin/linux_$1/backup-restore"
}

build_image() {
	local arch
	arch="$(go env GOARCH)"
	build_binary "${arch}"
	log "building ${IMAGE} for linux/${arch} with ${BUILDER}"
	case "${BUILDER}" in
	docker)
		docker buildx build --platform "linux/${arch}" "${BUILD_ARGS[@]}" \
			--build-arg "SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH}" --load -t "${IMAGE}" .
		;;
	buildah)
		local old new
		old="$("${BUILDAH[@]}" images --quiet --no-trunc "${IMAGE}" 2>/dev/null || true)"
		"${BUILDAH[@]}" bud --isolation chroot --platform "linux/${arch}" \
			--timestamp "${SOURCE_DATE_EPOCH}" "${BUILD_ARGS[@]}" -t "${IMAGE}" .
		new="$("${BUILDAH[@]}" images --quiet --no-trunc "${IMAGE}")"
		# vfs keeps a full copy per image: drop the one this build replaced.
		if [ -n "${old}" ] && [ "${old}" != "${new}" ]; then
			"${BUILDAH[@]}" rmi "${old}" >/dev/null 2>&1 || true
		fi
		;;
	esac
}

push_image() {
	local platforms p
	IFS=, read -ra platforms <<<"${PUSH_PLATFORMS}"
	for p in "${platforms[@]}"; do
		case "${p}" in
		linux/?*) build_binary "${p#linux/}" ;;
		*) die "PUSH_PLATFORMS entry ${p}: accepted entries are linux/<arch>, e.g. linux/arm64" ;;
		esac
	done
	log "building and pushing ${IMAGE} for ${PUSH_PLATFORMS} with ${BUILDER}"
	case "${BUILDER}" in
	docker)
		docker buildx build --platform "${PUSH_PLATFORMS}" "${BUILD_ARGS[@]}" \
			--build-arg "SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH}" --push -t "${IMAGE}" .
		;;
	buildah)
		"${BUILDAH[@]}" manifest rm "${IMAGE}" >/dev/null 2>&1 || true
		"${BUILDAH[@]}" bud --isolation chroot --platform "${PUSH_PLATFORMS}" \
			--timestamp "${SOURCE_DATE_EPOCH}" "${BUILD_ARGS[@]}" --manifest "${IMAGE}" .
		"${BUILDAH[@]}" manifest push --all "${IMAGE}" "docker://${IMAGE}"
		;;
	esac
}

# The image as an uncompressed archive (what `docker save` writes): its size
# is the image size, and its layers list the files the image holds.
save_image() {
	case "${BUILDER}" in
	docker) docker save -o "$1" "${IMAGE}" ;;
	buildah) "${BUILDAH[@]}" push --quiet "${IMAGE}" "docker-archive:$1" ;;
	esac
}

# Every path in every layer of a saved image, sorted.
image_files() {
	local dir="$2/unpacked" f
	mkdir -p "${dir}"
	tar -xf "$1" -C "${dir}"
	find "${dir}" -type f | while read -r f; do
		tar -tf "${f}" 2>/dev/null || true
	done | sed 's|^\./||' | grep -v '^$' | sort -u
}

# Runs the image with the given arguments after the entrypoint. RUN_OPTS holds
# -v and -e options, spelled the same for docker run and buildah run. With
# buildah, CONTAINER is a working container made once by test_image (not here:
# run_image runs in command substitutions, whose assignments are lost).
RUN_OPTS=()
CONTAINER=""
run_image() {
	case "${BUILDER}" in
	docker)
		# --read-only and a /tmp tmpfs as the chart runs it; host network
		# to reach the etcd on 127.0.0.1.
		docker run --rm --network host --read-only --tmpfs /tmp \
			"${RUN_OPTS[@]}" "${IMAGE}" "$@"
		;;
	buildah)
		# chroot isolation shares the host's network, so 127.0.0.1 is
		# the host's loopback. buildah run does not apply ENTRYPOINT.
		"${BUILDAH[@]}" run --isolation chroot "${RUN_OPTS[@]}" "${CONTAINER}" -- /backup-job "$@"
		;;
	esac
}

WORK=""
ETCD_PID=""
cleanup() {
	if [ -n "${ETCD_PID}" ] && kill -0 "${ETCD_PID}" 2>/dev/null; then
		kill -TERM "${ETCD_PID}" 2>/dev/null || true
		local i
		for i in $(seq 1 50); do
			kill -0 "${ETCD_PID}" 2>/dev/null || break
			sleep 0.2
		done
		kill -KILL "${ETCD_PID}" 2>/dev/null || true
		wait "${ETCD_PID}" 2>/dev/null || true
	fi
	if [ -n "${CONTAINER}" ]; then
		"${BUILDAH[@]}" rm "${CONTAINER}" >/dev/null 2>&1 || true
	fi
	if [ -n "${WORK}" ]; then
		rm -rf "${WORK}" 2>/dev/null || log "could not remove ${WORK} (files written by the container as root)"
	fi
}

test_image() {
	local start=${SECONDS}
	build_image

	WORK="$(mktemp -d "${TMPDIR:-/tmp}/etcd-backup-image-test.XXXXXX")"
	trap cleanup EXIT
	trap 'exit 130' INT TERM

	# Size and contents.
	save_image "${WORK}/image.tar"
	local size gz files
	size="$(stat -c %s "${WORK}/image.tar")"
	gz="$(gzip -c "${WORK}/image.tar" | wc -c)"
	echo "image ${IMAGE}: ${size} bytes ($(awk -v b="${size}" 'BEGIN { printf "%.1f", b / 1e6 }') MB) uncompressed, ${gz} bytes gzipped"
	files="$(image_files "${WORK}/image.tar" "${WORK}" | tr '\n' ' ')"
	[ "${files}" = "backup-job backup-restore tmp/ " ] ||
		die "the image should hold only /backup-job, /backup-restore and /tmp, it holds: ${files}"

	if [ "${BUILDER}" = buildah ]; then
		CONTAINER="$("${BUILDAH[@]}" from --pull=never "${IMAGE}")"
	fi

	# version and --help.
	local out
	out="$(run_image version)" || die "backup-job version failed"
	echo "backup-job version: ${out}"
	case "${out}" in
	*"${VERSION}"*) ;;
	*) die "backup-job version printed '${out}', which does not name the version ${VERSION}" ;;
	esac
	out="$(run_image --help 2>&1)" || die "backup-job --help failed: ${out}"
	case "${out}" in
	*ETCD_BACKUP_DESTINATIONS*) ;;
	*) die "backup-job --help does not list ETCD_BACKUP_DESTINATIONS: ${out}" ;;
	esac
	echo "backup-job --help: $(printf '%s\n' "${out}" | wc -l) lines"

	# A real etcd on 127.0.0.1 with client-certificate auth.
	mkdir -p "${WORK}/certs" "${WORK}/out"
	log "starting the demo etcd"
	go build -o "${WORK}/demo-etcd" ./cmd/demo-etcd
	"${WORK}/demo-etcd" -serve -dir "${WORK}/certs" >"${WORK}/etcd.env" 2>"${WORK}/etcd.log" &
	ETCD_PID=$!
	local i ready
	for i in $(seq 1 300); do
		ready=$(grep -cs -E '^ETCD_BACKUP_(ENDPOINTS|CACERT|CERT|KEY)=' "${WORK}/etcd.env" || true)
		[ "${ready}" = 4 ] && break
		kill -0 "${ETCD_PID}" 2>/dev/null || die "the demo etcd exited: $(cat "${WORK}/etcd.log")"
		[ "${i}" -lt 300 ] || die "the demo etcd printed no settings within 60s: $(cat "${WORK}/etcd.log")"
		sleep 0.2
	done
	local endpoints cacert cert key
	endpoints="$(sed -n 's/^ETCD_BACKUP_ENDPOINTS=//p' "${WORK}/etcd.env")"
	cacert="$(sed -n 's/^ETCD_BACKUP_CACERT=//p' "${WORK}/etcd.env")"
	cert="$(sed -n 's/^ETCD_BACKUP_CERT=//p' "${WORK}/etcd.env")"
	key="$(sed -n 's/^ETCD_BACKUP_KEY=//p' "${WORK}/etcd.env")"

	# One backup from inside the image: the certificates where kubeadm keeps
	# them, the snapshot into a mounted directory, as the chart mounts them.
	local pki=/etc/kubernetes/pki/etcd
	RUN_OPTS=(
		-v "${cacert}:${pki}/ca.crt:ro"
		-v "${cert}:${pki}/client.crt:ro"
		-v "${key}:${pki}/client.key:ro"
		-v "${WORK}/out:/backup/host"
		-e "ETCD_BACKUP_ENDPOINTS=${endpoints}"
		-e "ETCD_BACKUP_CACERT=${pki}/ca.crt"
		-e "ETCD_BACKUP_CERT=${pki}/client.crt"
		-e "ETCD_BACKUP_KEY=${pki}/client.key"
		-e "ETCD_BACKUP_DESTINATIONS=/backup/host"
	)
	log "backing up ${endpoints} from inside the image"
	local rc=0
	run_image >"${WORK}/summary" 2>"${WORK}/backup.log" || rc=$?
	if [ "${rc}" -ne 0 ]; then
		cat "${WORK}/backup.log" >&2
		die "the backup in the image exited with status ${rc}: $(cat "${WORK}/summary")"
	fi
	local summary snapshots
	summary="$(tail -n 1 "${WORK}/summary")"
	case "${summary}" in
	"{"*"}") ;;
	*) die "the backup printed no JSON summary line on stdout: '${summary}'" ;;
	esac
	snapshots="$(find "${WORK}/out" -maxdepth 1 -type f -name 'etcd-snapshot-*T*Z.db' -size +0)"
	[ "$(printf '%s' "${snapshots}" | grep -c .)" = 1 ] ||
		die "expected one snapshot in the mounted directory, found: $(ls -la "${WORK}/out")"
	[ "$(stat -c %a "${snapshots}")" = 600 ] ||
		die "snapshot ${snapshots} has mode $(stat -c %a "${snapshots}"), want 600"
	case "${summary}" in
	*"\"$(basename "${snapshots}")\""*) ;;
	*) die "the summary does not name the snapshot $(basename "${snapshots}"): ${summary}" ;;
	esac
	echo "snapshot on the host: $(basename "${snapshots}") ($(stat -c %s "${snapshots}") bytes)"
	echo "summary: ${summary}"

	# Restore that snapshot inside the image, as on a node whose API server
	# is down: backup-job hands restore to backup-restore beside it.
	local snap
	snap="$(basename "${snapshots}")"
	out="$(run_image restore "/backup/host/${snap}" --name m0 --initial-advertise-peer-urls https://127.0.0.1:2380 \
		--data-dir /backup/host/restored --target-version 3.6 2>&1)" || die "restore in the image failed: ${out}"
	[ -s "${WORK}/out/restored/member/snap/db" ] || die "restore in the image wrote no member/snap/db: ${out}"
	echo "restore in the image: $(printf '%s\n' "${out}" | head -n 1)"
	# The restore drill inside the image: a throwaway etcd on the container's
	# loopback serves the restored snapshot and every key is read back.
	out="$(run_image drill --from /backup/host --kubernetes=false 2>"${WORK}/drill.err")" ||
		die "the drill in the image failed: ${out} $(tail -n 5 "${WORK}/drill.err")"
	case "${out}" in
	*'"status":"ok"'*'"keys_read":'*) ;;
	*) die "the drill in the image printed no successful summary: ${out}" ;;
	esac
	echo "drill in the image: ${out}"
	# Checked last, so that a size failure still shows whether the image works.
	[ "${size}" -lt "${MAX_IMAGE_BYTES}" ] ||
		die "the image is ${size} bytes uncompressed, the limit is ${MAX_IMAGE_BYTES} (it works otherwise; $((SECONDS - start))s)"
	echo "image-test passed in $((SECONDS - start))s"
}

main() {
	[ $# -eq 1 ] || die "usage: ci/image.sh build|test|push"
	BUILDER="$(choose_builder)"
	if [ "${BUILDER}" = buildah ]; then
		ensure_buildah
	fi
	case "$1" in
	build) build_image ;;
	test) test_image ;;
	push) push_image ;;
	*) die "unknown target '$1': accepted are build, test, push" ;;
	esac
}

main "$@"
