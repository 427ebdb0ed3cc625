#!/usr/bin/env bash
# `make bench`: s3sync against the raw GET→PUT loop and rclone, plus plan, resume and checkpoint
# figures. Starts the shared services (PostgreSQL, and builds versitygw if missing), installs
# Debian's rclone when absent, then runs the driver (scripts/bench/main.go), which starts its
# own S3 server on 127.0.0.1:7171 and a latency proxy on 127.0.0.1:7172.
#
#   BENCH_SCALE=quick (default, about 6 min) | full (the BENCHMARKS.md figures, about 40 min)
#   BENCH_ONLY=mix,small,wan,large,plan,resume,profile   BENCH_ROUNDS=N   BENCH_WORK=DIR
#
# Results: artifacts/bench/results.md (tables), results.json (every run), *.pprof.
#
#   scripts/bench/run.sh follow [-rows N] [-rounds N] [-cold=false] [-keep]
# instead measures what `copy --follow` costs the database on a 10M-row media_attachments
# (scripts/bench/follow; about 10 minutes, 6 GiB in PostgreSQL's data directory while it
# runs): artifacts/bench/follow.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/test-services.sh
if [ "${1:-}" = follow ]; then
  shift
  . .tools/test-env.sh
  echo "bench: load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  exec go run ./scripts/bench/follow "$@"
fi
if ! command -v rclone >/dev/null 2>&1; then
  echo "bench: installing rclone (Debian package)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rclone >/dev/null
fi
if [ ! -x /usr/bin/time ]; then
  echo "bench: installing GNU time (Debian package), for peak RSS" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null
fi
. .tools/test-env.sh
echo "bench: load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
exec go run ./scripts/bench -scale "${BENCH_SCALE:-quick}" "$@"
