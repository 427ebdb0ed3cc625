#!/usr/bin/env bash
# Starts the services the integration tests need, installing what is missing:
#   - PostgreSQL (Debian's cluster) with a superuser role s3sync/s3sync on 127.0.0.1:5432
#   - the Versity S3 Gateway (posix backend, temporary root) on 127.0.0.1:$S3SYNC_TEST_S3_PORT
# and writes .tools/test-env.sh, which exports the S3SYNC_TEST_* variables the tests read.
# Safe to run repeatedly: what already runs is reused.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
tools="$root/.tools"
mkdir -p "$tools"

VGW_VERSION=v1.8.0
S3_PORT=${S3SYNC_TEST_S3_PORT:-7070}
S3_ACCESS=s3sync-test-access
S3_SECRET=s3sync-test-secret
PG_USER=s3sync
PG_PASS=s3sync

log() { printf 'test-services: %s\n' "$*" >&2; }

apt_updated=
apt_install() {
  if [ -z "$apt_updated" ]; then
    log "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    apt_updated=1
  fi
  log "installing $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# --- PostgreSQL ---------------------------------------------------------------
if ! command -v pg_lsclusters >/dev/null 2>&1 || [ -z "$(pg_lsclusters -h 2>/dev/null)" ]; then
  apt_install postgresql postgresql-client
fi
cluster=$(pg_lsclusters -h | head -n1)
pg_ver=$(echo "$cluster" | awk '{print $1}')
pg_name=$(echo "$cluster" | awk '{print $2}')
PG_PORT=$(echo "$cluster" | awk '{print $3}')
if [ "$(echo "$cluster" | awk '{print $4}')" != "online" ]; then
  log "starting PostgreSQL $pg_ver/$pg_name"
  pg_ctlcluster "$pg_ver" "$pg_name" start
fi
for _ in $(seq 1 50); do
  pg_isready -q -h 127.0.0.1 -p "$PG_PORT" && break
  sleep 0.2
done
pg_isready -q -h 127.0.0.1 -p "$PG_PORT" || { log "PostgreSQL does not answer on 127.0.0.1:$PG_PORT"; exit 1; }
su postgres -c "psql -q -p $PG_PORT -v ON_ERROR_STOP=1" >/dev/null <<SQL
DO \$\$BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$PG_USER') THEN
    CREATE ROLE $PG_USER LOGIN SUPERUSER PASSWORD '$PG_PASS';
  END IF;
END\$\$;
SQL

# --- Versity S3 Gateway ---------------------------------------------------------
vgw="$tools/versitygw"
if [ ! -x "$vgw" ]; then
  log "building versitygw $VGW_VERSION (about 2 minutes)"
  GOBIN="$tools" GOFLAGS=-buildvcs=false go install "github.com/versity/versitygw/cmd/versitygw@$VGW_VERSION"
fi
s3_up() { (exec 3<>"/dev/tcp/127.0.0.1/$S3_PORT") 2>/dev/null; }
if ! s3_up; then
  s3root=$(mktemp -d /tmp/s3sync-s3.XXXXXX)
  mkdir -p "$s3root/data" "$s3root/meta"
  log "starting versitygw on 127.0.0.1:$S3_PORT (root $s3root)"
  # The sidecar keeps metadata in files, so the gateway works on filesystems without user xattrs.
  ROOT_ACCESS_KEY="$S3_ACCESS" ROOT_SECRET_KEY="$S3_SECRET" \
    setsid nohup "$vgw" --port "127.0.0.1:$S3_PORT" --quiet \
    posix --sidecar "$s3root/meta" "$s3root/data" >"$s3root/versitygw.log" 2>&1 < /dev/null &
  echo $! >"$tools/versitygw.pid"
  for _ in $(seq 1 100); do s3_up && break; sleep 0.1; done
  s3_up || { log "versitygw did not start; see $s3root/versitygw.log"; cat "$s3root/versitygw.log" >&2; exit 1; }
fi

cat >"$tools/test-env.sh" <<ENV
export S3SYNC_TEST_PG_URL=postgres://$PG_USER:$PG_PASS@127.0.0.1:$PG_PORT/postgres?sslmode=disable
export S3SYNC_TEST_S3_ENDPOINT=http://127.0.0.1:$S3_PORT
export S3SYNC_TEST_S3_ACCESS_KEY=$S3_ACCESS
export S3SYNC_TEST_S3_SECRET_KEY=$S3_SECRET
ENV
log "ready: PostgreSQL 127.0.0.1:$PG_PORT, S3 http://127.0.0.1:$S3_PORT (env in .tools/test-env.sh)"
