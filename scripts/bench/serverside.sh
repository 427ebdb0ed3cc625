#!/bin/bash
# Server-side copy (CopyObject) versus streamed copy on the local S3 server, two profiles:
# mastodon (2000 records, mixed sizes) and large (40 videos of 64 MiB). Each mode runs twice.
# Uses its own database (s3sync_ssbench_*) and buckets (ssbench-*). Output: copy summaries.
set -e
cd "$(dirname "$0")/../.."
. .tools/test-env.sh
B=artifacts/bench/serverside; mkdir -p $B; go build -o $B/s3sync ./cmd/s3sync
for prof in mastodon large; do
  recs=2000; [ $prof = large ] && recs=40
  go run ./scripts/gendata --profile $prof --records $recs --large-mib 64 --database s3sync_ssbench_$prof \
    --source-bucket ssbench-$prof-src --destination-bucket ssbench-$prof-dst --config-out $B/$prof.ini --checkpoint $B/$prof.db \
    --missing 0 --drifted 0 --upload-workers 16 > $B/gen-$prof.log 2>&1
  for mode in never auto never auto; do
    rm -f $B/$prof.db $B/$prof.db.status.json
    # empty the destination between runs
    go run ./scripts/gendata --profile $prof --records $recs --large-mib 64 --database s3sync_ssbench_$prof \
      --source-bucket ssbench-$prof-src --destination-bucket ssbench-$prof-dst --config-out $B/$prof.ini --checkpoint $B/$prof.db \
      --missing 0 --drifted 0 --objects=false > /dev/null 2>&1
    $B/s3sync --config $B/$prof.ini --no-progress --log-level warn plan > /dev/null
    echo "== $prof $mode"; $B/s3sync --config $B/$prof.ini --no-progress --log-level warn copy --concurrency 16 --server-side $mode | grep -E "^copied|^mode"
  done
done
