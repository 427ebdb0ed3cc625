# s3sync — see README.md.
GO      ?= go
BIN     := bin/s3sync
ENVFILE := .tools/test-env.sh

.PHONY: build test services demo lint bench clean

build:
	$(GO) build -o $(BIN) ./cmd/s3sync

## services: start PostgreSQL and the local S3 server used by tests and the demo
services:
	scripts/test-services.sh

## test: vet, then every test (unit and integration) with the race detector against real services
test: services
	$(GO) vet ./...
	. ./$(ENVFILE) && $(GO) test -race -count=1 -timeout 25m ./...

## demo: a throwaway sandbox, then plan → copy → report
demo: services build
	scripts/demo.sh

lint:
	gofmt -l . | (! grep .)
	$(GO) vet ./...

clean:
	rm -rf bin
