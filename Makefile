# etcd-backup — build, test and ship.
# Everything a fresh machine needs is installed by these targets into .tools/ (git-ignored).

SHELL       := /bin/bash
MODULE      := github.com/etcd-backup/etcd-backup
VERSION     := $(shell cat VERSION)
COMMIT      := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
GOOS        ?= $(shell go env GOOS)
GOARCH      ?= $(shell go env GOARCH)
TOOLS_DIR   := $(CURDIR)/.tools
# build/go-tags, read here, by the fault suite and in the Dockerfile's recipe:
# grpcnotrace drops golang.org/x/net/trace (its templates defeat dead-code
# elimination); disable_grpc_modules drops the GCS client's gRPC direct path.
# GCS over HTTP, S3 and Azure are unaffected; the binary is about half the size.
GO_TAGS     := $(shell cat build/go-tags)
LDFLAGS     := -s -w -X $(MODULE)/internal/version.Version=$(VERSION) -X $(MODULE)/internal/version.Commit=$(COMMIT)
GO_BUILD    := CGO_ENABLED=0 GOOS=$(GOOS) GOARCH=$(GOARCH) go build -trimpath -tags '$(GO_TAGS)' -ldflags '$(LDFLAGS)'

export TOOLS_DIR

.PHONY: all build test test-faults mutation lint demo bench chart-test image image-test e2e tools clean

all: build

## build: the static binaries bin/backup-job (the scheduled backup, list, fetch, verify) and
## bin/backup-restore (restore and drill, which link etcd's restore code) (GOOS/GOARCH settable).
build:
	$(GO_BUILD) -o bin/backup-job ./cmd/backup-job
	$(GO_BUILD) -o bin/backup-restore ./cmd/backup-restore

## bin/$(GOOS)_$(GOARCH)/backup-job, .../backup-restore: per-platform binaries for the image.
# (two rules: one pattern rule with two targets would build only one of them)
bin/%/backup-job: FORCE
	CGO_ENABLED=0 GOOS=$(word 1,$(subst _, ,$*)) GOARCH=$(word 2,$(subst _, ,$*)) \
		go build -trimpath -tags '$(GO_TAGS)' -ldflags '$(LDFLAGS)' -o $@ ./cmd/backup-job
bin/%/backup-restore: FORCE
	CGO_ENABLED=0 GOOS=$(word 1,$(subst _, ,$*)) GOARCH=$(word 2,$(subst _, ,$*)) \
		go build -trimpath -tags '$(GO_TAGS)' -ldflags '$(LDFLAGS)' -o $@ ./cmd/backup-restore
FORCE:

## test: every test (unit, real etcd, chart, object storage servers).
test:
	ci/test.sh

## test-faults: the fault-injection suite alone (part of `make test` too), against bin/backup-job:
## real etcd and S3 servers, faults injected through loopback proxies, mounts (as root), the table of results.
test-faults: build
	@if [ -x ci/install-test-servers.sh ]; then ci/install-test-servers.sh; fi
	BACKUP_JOB_BINARY=$(CURDIR)/bin/backup-job go test -count=1 -timeout 15m -v ./internal/faults/

## mutation: mutation testing (gremlins) of the packages with fast tests, one at a time;
## fails below 90% test efficacy in any of them. MUTATION_PACKAGES="prune retry" for some only.
mutation:
	ci/mutation.sh

## lint: gofmt, go vet, staticcheck, shellcheck, helm lint.
lint:
	ci/lint.sh

## demo: a local TLS etcd (embedded), seeded, backed up by bin/backup-job into ./demo-backups.
demo: build
	go run ./cmd/demo-etcd -- bin/backup-job

## bench: bin/backup-job against `etcdctl snapshot save` and the usual recipe on a real etcd
## filled to BENCH_SIZE (default 1GiB), BENCH_ROUNDS rounds (default 5); BENCH_FLAGS go to
## the benchmark (e.g. -compare before=OTHER-BINARY); see ci/bench.sh.
BENCH_SIZE   ?= 1GiB
BENCH_ROUNDS ?= 5
BENCH_FLAGS  ?=
bench: build
	BENCH_SIZE=$(BENCH_SIZE) BENCH_ROUNDS=$(BENCH_ROUNDS) ci/bench.sh $(BENCH_FLAGS)

## chart-test: the chart tests alone (render with the Helm SDK, strict decoding, golden files).
chart-test:
	cd internal/chart && go test -count=1 ./...

## image / image-test: build the image with the builder at hand, then run it.
image:
	ci/image.sh build

image-test:
	ci/image.sh test

## e2e: the image and the chart on a real single-node cluster (etcd in kubeadm's layout, kube-apiserver,
## controller-manager, scheduler, kubelet with containerd), driven by helm and kubectl, all inside a network
## namespace of its own; root only. Kubernetes, helm and etcd are built into .tools/ once (see ci/e2e/).
e2e:
	ci/e2e/run.sh

clean:
	rm -rf bin demo-backups
