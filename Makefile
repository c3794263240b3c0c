# etcd-backup — build, test and ship.
# Everything a fresh machine needs is installed by these targets into .tools/ (git-ignored).

SHELL       := /bin/bash
MODULE      := github.com/etcd-backup/etcd-backup
VERSION     := $(shell cat VERSION)
COMMIT      := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
GOOS        ?= $(shell go env GOOS)
GOARCH      ?= $(shell go env GOARCH)
TOOLS_DIR   := $(CURDIR)/.tools
LDFLAGS     := -s -w -X $(MODULE)/internal/version.Version=$(VERSION) -X $(MODULE)/internal/version.Commit=$(COMMIT)
GO_BUILD    := CGO_ENABLED=0 GOOS=$(GOOS) GOARCH=$(GOARCH) go build -trimpath -ldflags '$(LDFLAGS)'

export TOOLS_DIR

.PHONY: all build test lint demo bench chart-test image image-test tools clean

all: build

## build: the static binary at bin/backup-job (GOOS/GOARCH settable).
build:
	$(GO_BUILD) -o bin/backup-job ./cmd/backup-job

## bin/$(GOOS)_$(GOARCH)/backup-job: per-platform binaries for the image.
bin/%/backup-job: FORCE
	CGO_ENABLED=0 GOOS=$(word 1,$(subst _, ,$*)) GOARCH=$(word 2,$(subst _, ,$*)) \
		go build -trimpath -ldflags '$(LDFLAGS)' -o $@ ./cmd/backup-job
FORCE:

## test: every test (unit, real etcd, chart, object storage servers).
test:
	ci/test.sh

## lint: gofmt, go vet, staticcheck, shellcheck, helm lint.
lint:
	ci/lint.sh

## demo: a local TLS etcd (embedded), seeded, backed up by bin/backup-job into ./demo-backups.
demo: build
	go run ./cmd/demo-etcd -- bin/backup-job

## chart-test: the chart tests alone (render with the Helm SDK, strict decoding, golden files).
chart-test:
	cd internal/chart && go test -count=1 ./...

## image / image-test: build the image with the builder at hand, then run it.
image:
	ci/image.sh build

image-test:
	ci/image.sh test

clean:
	rm -rf bin demo-backups
