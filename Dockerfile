# etcd-backup image: two static binaries on an empty base: /backup-job (the
# scheduled backup, and verify, list, fetch) and /backup-restore (restore and
# drill, which link etcd's restore code; `backup-job restore` runs it).
#
# Build it with `make image` (ci/image.sh), which first builds
# bin/<os>_<arch>/backup-job and backup-restore for each target platform with `make`, then runs
# docker buildx or buildah on this file. A plain `docker build .` works too once
# `make bin/linux_amd64/backup-job bin/linux_amd64/backup-restore` (or _arm64) has run.
#
# Why a prebuilt binary and no builder stage:
# - Offline: `FROM scratch` and a COPY need no registry, so the image builds on
#   machines that can reach neither Docker Hub nor a Go image, and in CI
#   without pulling anything.
# - One Go toolchain: the binary is built by the same `go` (and the same module
#   cache) that runs the tests, not by whatever golang image tag a builder
#   stage names; cross-compiling for arm64 is GOARCH=arm64, no emulation.
# - Reproducible: CGO_ENABLED=0, -trimpath, the version stamped with -ldflags
#   from the VERSION file, and the image timestamp set to the commit's
#   (ci/image.sh passes it): with buildah, one commit gives one image ID.
# - The same binary that was tested is the one shipped.
#
# The binaries need no file from the base: it is static, embeds the CA roots
# (golang.org/x/crypto/x509roots/fallback) for HTTPS to object storage, and
# takes everything else from the environment. There is no shell in the image.
#
# For those who want to build inside Docker instead, the builder-stage
# equivalent is (it needs network access to pull golang and the modules):
#
#   # syntax=docker/dockerfile:1
#   FROM --platform=$BUILDPLATFORM golang:1.26 AS build
#   ARG TARGETOS TARGETARCH VERSION=dev REVISION=unknown
#   WORKDIR /src
#   COPY go.mod go.sum ./
#   RUN go mod download
#   COPY . .
#   RUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath \
#         -tags "$(cat build/go-tags)" \
#         -ldflags "-s -w -X github.com/etcd-backup/etcd-backup/internal/version.Version=$VERSION -X github.com/etcd-backup/etcd-backup/internal/version.Commit=$REVISION" \
#         -o /out/ ./cmd/backup-job ./cmd/backup-restore
#   FROM scratch
#   COPY --from=build /out/backup-job /out/backup-restore /
#   WORKDIR /tmp
#   ENTRYPOINT ["/backup-job"]
#
# (with a .dockerignore that lets the sources in).

FROM scratch

# Set by docker buildx and buildah from --platform.
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
ARG REVISION=unknown
ARG SOURCE=https://github.com/etcd-backup/etcd-backup
ARG LICENSES=Apache-2.0

LABEL org.opencontainers.image.title="etcd-backup" \
      org.opencontainers.image.description="Snapshots etcd over the v3 API, verifies the snapshot, copies it to directories and object storage, prunes old ones." \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="${LICENSES}"

COPY bin/${TARGETOS}_${TARGETARCH}/backup-job bin/${TARGETOS}_${TARGETARCH}/backup-restore /

# scratch has no /tmp; WORK_DIR defaults to it (the verification scratch file
# when no local directory destination is configured). WORKDIR creates it.
# With a read-only root filesystem the chart mounts an emptyDir there.
WORKDIR /tmp

ENTRYPOINT ["/backup-job"]
