#!/usr/bin/env bash
# The zero-downtime cutover on the demo sandbox, in one command: s3sync copies the bulk and
# keeps following while a simulated Mastodon (scripts/mastodonsim) keeps uploading, first to
# the old bucket, then — after the switch — to the new one; once the passes find nothing new,
# following stops, and report and verify show the result. About a minute.
# `make demo-follow` runs it after starting the services and building bin/s3sync.
set -euo pipefail
cd "$(dirname "$0")/.."
. .tools/test-env.sh

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
say() { printf '    %s\n' "$@"; }
s3sync() { echo "+ s3sync $*"; bin/s3sync "$@"; }

tmp=$(mktemp -d)
follow_pid=
cleanup() {
  if [ -n "$follow_pid" ] && kill -0 "$follow_pid" 2>/dev/null; then
    kill -INT "$follow_pid" 2>/dev/null || true
    wait "$follow_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

step "Generating the sandbox: database s3sync_demo, buckets demo-source and demo-destination"
rm -f private/demo.db private/demo.db.status.json
go run ./scripts/gendata --records "${DEMO_RECORDS:-150}" --config-out private/demo.ini --checkpoint private/demo.db
go build -o "$tmp/mastodonsim" ./scripts/mastodonsim
mastodon() { echo "+ mastodonsim $*"; "$tmp/mastodonsim" --config private/demo.ini "$@"; }

step "Plan: snapshot every object the database references into the checkpoint"
s3sync --config private/demo.ini plan

log="$tmp/follow.log"
step "Copy and follow: the bulk copy, then a pass every 2 seconds (replaced files every 6)"
say "s3sync runs in the background from here on; its lines start with \"s3sync │\"."
echo "+ s3sync --config private/demo.ini copy --follow --interval 2s --rescan-every 6s &"
bin/s3sync --config private/demo.ini copy --follow --interval 2s --rescan-every 6s \
  > >(tee "$log" | sed -u 's/^/  s3sync │ /') 2>&1 &
follow_pid=$!

# passes prints the "following" lines logged so far, from line $1 on.
passes() { tail -n +"$1" "$log" 2>/dev/null | grep -E ' (following|final pass)( |$)' || true; }
following() {
  kill -0 "$follow_pid" 2>/dev/null && return
  echo "demo-follow: s3sync copy --follow stopped early" >&2
  exit 1
}
for _ in $(seq 120); do
  following
  [ -n "$(passes 1)" ] && break
  sleep 0.5
done
[ -n "$(passes 1)" ] || { echo "demo-follow: no pass after a minute" >&2; exit 1; }

step "Mastodon keeps uploading to the old bucket (demo-source)"
say "Six new uploads and one replaced file, a second apart. Each pass of s3sync reads the new" \
  "records through the primary key (\"new records\"); every 6 seconds it also looks for replaced files."
mastodon --uploads 6 --replace 1 --every 1s --to source

step "The switch: .env.production now points at the new bucket; Mastodon uploads there"
say "Mastodon restarted with S3_BUCKET=demo-destination. Its new files are never in the old bucket:" \
  "s3sync finds them at the destination, counts them done (\"found\") and never overwrites them."
mastodon --uploads 4 --replace 1 --every 1s --to destination

step "Mastodon is quiet: keep following until s3sync says it is ready to stop"
say "Ready to stop: 3 passes in a row queued nothing and left nothing pending, and one of them was a" \
  "rescan (the only passes that find replaced files). The 5 objects gendata left out of the source on" \
  "purpose were marked missing by the bulk copy: nothing waits on them."
from=$(($(wc -l < "$log") + 1))
ready=
for _ in $(seq 120); do
  following
  ready=$(passes "$from" | grep -m1 'ready_to_stop=true' || true)
  [ -n "$ready" ] && break
  sleep 0.5
done
[ -n "$ready" ] || { echo "demo-follow: s3sync is still not ready to stop after a minute" >&2; exit 1; }

step "Stop following: Ctrl-C (SIGINT); exit 130 is a clean stop, resumable as always"
kill -INT "$follow_pid"
follow_status=0
wait "$follow_pid" || follow_status=$?
follow_pid=
sleep 0.3 # the last prefixed lines
echo "copy --follow exited $follow_status"
case "$follow_status" in
0 | 3 | 130) ;;
*) echo "demo-follow: copy --follow failed (exit $follow_status)" >&2; exit 1 ;;
esac

step "Report: the state the cutover leaves"
say "Done counts the files Mastodon wrote to the new bucket itself apart (\"already at the destination\")."
s3sync --config private/demo.ini report

step "Verify: every done object is at the destination, intact"
s3sync --config private/demo.ini verify

cat <<'TXT'

What happened: s3sync copied the bulk, then followed Mastodon pass after pass. Uploads to the
old bucket were copied within seconds, the replaced files at the next rescan (their old files
are listed as stale). After the switch, the new files were already at the destination: done
("found"), counted apart by report, never overwritten. Once a few passes found nothing new,
following stopped; the 5 objects that were never anywhere are missing, and verify found every
done object right. On a real server the same steps are README's "Cutover", with Mastodon's web and sidekiq
restarted on the new bucket at the switch.

The sandbox stays up: try
  bin/s3sync --config private/demo.ini report --format csv --status done | grep 'already at the destination'
  bin/s3sync --config private/demo.ini copy --resume --follow --interval 2s   # Ctrl-C to stop
Clean up: the next make demo or make demo-follow starts the sandbox over. To remove it:
  . .tools/test-env.sh && psql "$S3SYNC_TEST_PG_URL" -c 'DROP DATABASE s3sync_demo' && rm private/demo.*
(the buckets are the local S3 server's, in its scratch directory /tmp/s3sync-s3.*)
TXT
