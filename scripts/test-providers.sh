#!/usr/bin/env bash
# make test-providers: s3sync's main scenarios between two real S3 implementations, the Versity
# S3 Gateway of `make test` and SeaweedFS. Starts the usual test services (scripts/test-services.sh)
# and SeaweedFS (scripts/seaweedfs.sh, built once per machine, about 5 minutes), then runs
# the TestProviders* tests (build tag providers) of cmd/s3sync and storage/s3test.
# Extra arguments go to go test, e.g. scripts/test-providers.sh -v -run TestProvidersOrphans.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/test-services.sh
scripts/seaweedfs.sh
# shellcheck source=/dev/null
. .tools/test-env.sh
# shellcheck source=/dev/null
. .tools/test-providers-env.sh

start=$(date +%s)
go vet -tags providers ./cmd/s3sync/ ./storage/s3test/
go test -tags providers -race -count=1 -timeout 20m -run '^TestProviders' "$@" ./cmd/s3sync/ ./storage/s3test/
echo "test-providers: passed in $(($(date +%s) - start))s"
