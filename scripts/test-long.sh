#!/usr/bin/env bash
# The reliability suite in long mode, then each fuzz target for $FUZZTIME; see RELIABILITY.md.
# The full log goes to artifacts/test-long.log; the figures RELIABILITY.md quotes are printed.
set -euo pipefail
cd "$(dirname "$0")/.."
. .tools/test-env.sh
mkdir -p artifacts
log=artifacts/test-long.log
fuzztime=${FUZZTIME:-2m}
start=$(date +%s)

S3SYNC_LONG=1 go test -count=1 -timeout 90m -v \
  -run 'TestCrashAnywhere|TestFlakyProviders|TestProviderOutage|TestPermanentDenial|TestCorruptCheckpoint|TestFullDisk|TestKillThenResume|TestNoSecretsInAnyOutput' \
  ./cmd/s3sync >"$log" 2>&1 || { tail -50 "$log"; echo "test-long: FAILED (full log: $log)"; exit 1; }
grep -E '^(--- |ok)|survived|seed |retries:' "$log"

for target in "FuzzObjects ./catalog" "FuzzParseConfig ./cmd/s3sync" "FuzzDecodeObject ./checkpoint"; do
  set -- $target
  echo "fuzzing $1 for $fuzztime"
  go test -run '^$' -fuzz "^$1\$" -fuzztime "$fuzztime" "$2" 2>&1 | tee -a "$log" | grep -E 'elapsed.*execs' | tail -1
done
echo "test-long: passed in $(( $(date +%s) - start )) s (full log: $log)"
