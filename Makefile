# s3sync — see README.md.
GO      ?= go
BIN     := bin/s3sync
ENVFILE := .tools/test-env.sh

.PHONY: bench-follow build test test-long test-providers services demo demo-follow lint bench clean release image

build:
	$(GO) build -buildvcs=auto -o $(BIN) ./cmd/s3sync

## services: start PostgreSQL and the local S3 server used by tests and the demo
services:
	scripts/test-services.sh

## test: vet, then every test (unit and integration) with the race detector against real services
test: services
	$(GO) vet ./...
	. ./$(ENVFILE) && $(GO) test -race -count=1 -timeout 25m ./...

## test-long: the reliability suite in long mode (200 kill points, bigger runs) and fuzzing;
## about 25 minutes. FUZZTIME=2m per fuzz target by default. Replay a failure with S3SYNC_SEED=N.
test-long: services
	scripts/test-long.sh

## test-providers: the main scenarios (plan, copy, verify, kill and resume, server-side copy,
## acl_policy = mastodon, orphans) between the Versity S3 Gateway and SeaweedFS, both ways and
## within SeaweedFS. Builds SeaweedFS once per machine (cached in ~/.cache/s3sync-tools).
test-providers:
	scripts/test-providers.sh

## demo: a throwaway sandbox, then plan → copy → report
demo: services build
	scripts/demo.sh

## demo-follow: the zero-downtime cutover on a fresh sandbox: copy --follow while a simulated Mastodon
## uploads to the old bucket, then (after the switch) to the new one; stop when quiet, report, verify
demo-follow: services build
	scripts/demo-follow.sh

## bench: s3sync vs the raw GET→PUT loop and rclone, plan/resume/checkpoint figures (BENCHMARKS.md)
## BENCH_SCALE=quick (default, about 6 minutes) or full (about 40 minutes); results in artifacts/bench/
bench:
	scripts/bench/run.sh

## bench-follow: what a copy --follow pass costs PostgreSQL on a 10M-row media_attachments
## (BENCHMARKS.md); about 7 minutes and 5.4 GiB of disk, the database dropped at the end
bench-follow: services
	scripts/bench/run.sh follow

## release: static binaries for linux amd64/arm64, darwin amd64/arm64 and freebsd amd64 in dist/,
## named s3sync_<version>_<os>_<arch>, with dist/SHA256SUMS. VERSION=1.2.3 (default: git describe
## --tags --always --dirty, else dev); TARGETS="linux/amd64 ..." builds fewer.
release:
	VERSION="$(VERSION)" TARGETS="$(TARGETS)" GO="$(GO)" scripts/release.sh

## image: the container image ghcr.io/s3sync/s3sync:<version> and :latest (Containerfile: the static
## linux binary on an empty base), built with Debian's buildah (installed if missing), no registry
image:
	VERSION="$(VERSION)" GO="$(GO)" scripts/image.sh

lint:
	gofmt -l . | (! grep .)
	$(GO) vet ./...

clean:
	rm -rf bin dist
