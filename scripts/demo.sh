#!/usr/bin/env bash
# The one-command first run: a throwaway sandbox (a generated Mastodon-like database and two
# buckets on the local S3 server), then plan → copy → report with s3sync.
# `make demo` runs it after starting the services and building bin/s3sync.
set -euo pipefail
cd "$(dirname "$0")/.."
. .tools/test-env.sh

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "Generating the sandbox: database s3sync_demo, buckets demo-source and demo-destination"
rm -f private/demo.db private/demo.db.status.json
go run ./scripts/gendata --records "${DEMO_RECORDS:-300}" --config-out private/demo.ini --checkpoint private/demo.db

s3sync() { echo "+ s3sync $*"; bin/s3sync "$@"; }

step "Plan: snapshot every object the database references into the checkpoint"
s3sync --config private/demo.ini plan

step "Copy: stream each object from the source to the destination bucket"
status=0
s3sync --config private/demo.ini copy || status=$?

step "Report: what is left (objects that were never in the source bucket)"
s3sync --config private/demo.ini report
s3sync --config private/demo.ini report --format csv --status missing

cat <<TXT

The sandbox stays up: try
  bin/s3sync --config private/demo.ini report --format json --status done
  bin/s3sync --config private/demo.ini copy            # refuses: progress exists
  bin/s3sync --config private/demo.ini copy --resume   # nothing left to do
TXT
exit "$status"
