#!/usr/bin/env bash
# Builds (if missing) and starts SeaweedFS, the second S3 implementation of `make test-providers`,
# on loopback only, and writes .tools/test-providers-env.sh with the S3SYNC_TEST_S3B_* variables.
#
#   scripts/seaweedfs.sh          build if missing, start if not running, write the env file
#   scripts/seaweedfs.sh build    only build the binary (prints its path)
#   scripts/seaweedfs.sh stop     stop the instance this script started
#
# The binary is built from the module source the Go module proxy serves (go install refuses the
# module: its go.mod has replace directives) and cached outside the clone, in
# ${XDG_CACHE_HOME:-$HOME/.cache}/s3sync-tools/weed-<version>, so every clone on this machine
# reuses it. The first build takes about 5 minutes on 2 cores (4.5 measured with an empty Go build
# cache and the module source already downloaded).
#
# Ports (override with S3SYNC_TEST_S3B_PORT; the others follow it): S3 7380, master 7381,
# volume 7382, filer 7383, their gRPC ports 17380-17383. Data lives in a temporary directory.
# Safe to run repeatedly: a running instance is reused.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
tools="$root/.tools"
mkdir -p "$tools"

# SeaweedFS 4.53: the module proxy lists no tagged versions of github.com/seaweedfs/seaweedfs,
# so this pins a pseudo-version (commit 7506e5f91cd6).
SW_MODULE=github.com/seaweedfs/seaweedfs
SW_VERSION=${S3SYNC_SEAWEEDFS_VERSION:-v0.0.0-20261109003541-7506e5f91cd6}
cache="${XDG_CACHE_HOME:-$HOME/.cache}/s3sync-tools"
weed="$cache/weed-$SW_VERSION"

S3_PORT=${S3SYNC_TEST_S3B_PORT:-7380}
MASTER_PORT=$((S3_PORT + 1))
VOLUME_PORT=$((S3_PORT + 2))
FILER_PORT=$((S3_PORT + 3))
S3_ACCESS=s3sync-test-b-access
S3_SECRET=s3sync-test-b-secret
ENVFILE="$tools/test-providers-env.sh"
state="$tools/seaweedfs"

log() { printf 'seaweedfs: %s\n' "$*" >&2; }

build() {
  if [ -x "$weed" ]; then return 0; fi
  mkdir -p "$cache"
  # One build at a time per machine: a second caller waits for the first and reuses its binary.
  exec 9>"$cache/weed.lock"
  flock 9
  if [ -x "$weed" ]; then flock -u 9; return 0; fi
  log "building SeaweedFS $SW_VERSION into $weed (about 5 minutes on 2 cores, once per machine)"
  local dir tmp start
  start=$(date +%s)
  dir=$(cd /tmp && GOFLAGS=-mod=mod go mod download -json "$SW_MODULE@$SW_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')
  if [ -z "$dir" ] || [ ! -d "$dir/weed" ]; then
    log "go mod download $SW_MODULE@$SW_VERSION gave no source directory"
    exit 1
  fi
  tmp=$(mktemp -d /tmp/s3sync-weed-build.XXXXXX)
  trap 'rm -rf "$tmp" "$weed.tmp"' EXIT
  # The module cache is read-only; build in a writable copy of the module.
  cp -r "$dir/." "$tmp/src"
  chmod -R u+w "$tmp/src"
  (cd "$tmp/src" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath -ldflags='-s -w' \
    -o "$weed.tmp" ./weed)
  mv "$weed.tmp" "$weed"
  rm -rf "$tmp"
  trap - EXIT
  flock -u 9
  log "built $weed in $(($(date +%s) - start))s"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
s3_up() { port_open "$S3_PORT"; }

# ours answers whether pid is a SeaweedFS this script started (of any pinned version).
ours() {
  [ -n "$1" ] && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q "s3sync-tools/weed-.* server "
}

stop() {
  local pid data
  pid=$(cat "$state/weed.pid" 2>/dev/null) || true
  data=$(cat "$state/data-dir" 2>/dev/null) || true
  if ours "$pid"; then
    log "stopping SeaweedFS (pid $pid)"
    kill "$pid"
    # It flushes and leaves the cluster in about 15 seconds.
    for _ in $(seq 1 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      log "SeaweedFS (pid $pid) still runs after 60s: SIGKILL"
      kill -9 "$pid" 2>/dev/null || true
      sleep 0.5
    fi
  else
    log "no SeaweedFS started here is running"
  fi
  case "$data" in /tmp/s3sync-seaweedfs.*) rm -rf "$data" ;; esac
  rm -f "$state/weed.pid" "$state/data-dir" "$ENVFILE"
}

case "${1:-start}" in
build) build; echo "$weed"; exit 0 ;;
stop) stop; exit 0 ;;
start) ;;
*) log "usage: $0 [start|build|stop]"; exit 2 ;;
esac

build

# The S3 credentials: one identity with every right. No "anonymous" identity, so an anonymous
# GET is allowed only where an object ACL (public-read) or a bucket policy grants it.
mkdir -p "$state"
cat >"$state/s3.json" <<JSON
{
  "identities": [
    {
      "name": "s3sync-test",
      "credentials": [{"accessKey": "$S3_ACCESS", "secretKey": "$S3_SECRET"}],
      "actions": ["Admin", "Read", "List", "Tagging", "Write"]
    }
  ]
}
JSON

# ready answers whether SeaweedFS takes an authenticated write: the S3 port alone opens before
# the filer and the volume server have joined the master.
ready() {
  local url="http://127.0.0.1:$S3_PORT/s3sync-ready-probe" ok=1
  local sig=(-s -o /dev/null -w '%{http_code}' --max-time 10 --aws-sigv4 "aws:amz:us-east-1:s3" --user "$S3_ACCESS:$S3_SECRET" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD')
  case "$(curl "${sig[@]}" -X PUT "$url")" in 200 | 409) ;; *) return 1 ;; esac
  [ "$(curl "${sig[@]}" -X PUT --data-binary probe "$url/probe")" = 200 ] || ok=
  curl "${sig[@]}" -X DELETE "$url/probe" >/dev/null || true
  curl "${sig[@]}" -X DELETE "$url" >/dev/null || true
  [ -n "$ok" ]
}

if s3_up; then
  if ! ready; then
    log "127.0.0.1:$S3_PORT answers but does not take the test credentials; stop what listens there" \
      "or set S3SYNC_TEST_S3B_PORT to a free port"
    exit 1
  fi
else
  # An instance that is shutting down may still hold the other ports for a few seconds.
  for port in "$MASTER_PORT" "$VOLUME_PORT" "$FILER_PORT"; do
    for _ in $(seq 1 300); do port_open "$port" || break; sleep 0.1; done
    if port_open "$port"; then
      log "127.0.0.1:$port is taken; stop what listens there or set S3SYNC_TEST_S3B_PORT"
      exit 1
    fi
  done
  # The data of an earlier instance of this checkout that is gone.
  old=$(cat "$state/data-dir" 2>/dev/null) || true
  case "$old" in /tmp/s3sync-seaweedfs.*) rm -rf "$old" ;; esac
  data=$(mktemp -d /tmp/s3sync-seaweedfs.XXXXXX)
  log "starting SeaweedFS on 127.0.0.1:$S3_PORT (data $data)"
  # Loopback only; small volumes (each bucket is a collection with volumes of its own), no
  # telemetry, no Iceberg or Lance listeners.
  setsid nohup "$weed" -logdir="$data" server \
    -ip=127.0.0.1 -ip.bind=127.0.0.1 -dir="$data" \
    -master.port="$MASTER_PORT" -master.port.grpc="$((MASTER_PORT + 10000))" \
    -master.volumeSizeLimitMB=32 -master.telemetry=false -master.defaultReplication=000 \
    -volume.port="$VOLUME_PORT" -volume.port.grpc="$((VOLUME_PORT + 10000))" \
    -volume.max=0 -volume.preStopSeconds=0 \
    -filer -filer.port="$FILER_PORT" -filer.port.grpc="$((FILER_PORT + 10000))" \
    -s3 -s3.port="$S3_PORT" -s3.port.grpc="$((S3_PORT + 10000))" \
    -s3.port.iceberg=0 -s3.port.lance=0 -s3.config="$state/s3.json" \
    >"$data/weed.out" 2>&1 </dev/null &
  echo $! >"$state/weed.pid"
  echo "$data" >"$state/data-dir"
  for _ in $(seq 1 600); do
    if ! kill -0 "$(cat "$state/weed.pid")" 2>/dev/null; then break; fi
    ready && break
    sleep 0.2
  done
  if ! ready; then
    log "SeaweedFS did not start; see $data/weed.out"
    tail -n 30 "$data/weed.out" >&2
    exit 1
  fi
fi

cat >"$ENVFILE" <<ENV
export S3SYNC_TEST_S3B_ENDPOINT=http://127.0.0.1:$S3_PORT
export S3SYNC_TEST_S3B_ACCESS_KEY=$S3_ACCESS
export S3SYNC_TEST_S3B_SECRET_KEY=$S3_SECRET
ENV
log "ready: SeaweedFS S3 http://127.0.0.1:$S3_PORT (env in ${ENVFILE#"$root"/})"
