#!/usr/bin/env bash
# Starts the services the integration tests need, installing what is missing:
#   - PostgreSQL (Debian's cluster) with a superuser role s3sync/s3sync on 127.0.0.1:5432
#   - the Versity S3 Gateway (posix backend, temporary root) on 127.0.0.1:$S3SYNC_TEST_S3_PORT
#   - Debian's chromium, for the headless browser test of the status page, and zsh, to check the
#     zsh completion script
#   - OpenSSH's sshd (user s3sync-ssh, keys in .tools/sshd) on 127.0.0.1:$S3SYNC_TEST_SSH_PORT (2222)
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

# --- Chromium (browser test of the status page) ----------------------------------
# Debian's package; the test drives it headless with chromedp at /usr/bin/chromium.
if [ ! -x /usr/bin/chromium ]; then
  apt_install --no-install-recommends chromium fonts-liberation
fi
# --- zsh (zsh -n of the completion script) ----------------------------------------
if ! command -v zsh >/dev/null; then
  apt_install --no-install-recommends zsh
fi

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

# --- OpenSSH server (SSH tunnel tests) ------------------------------------------
# Debian's sshd on 127.0.0.1:$SSH_PORT, in front of the test PostgreSQL, with its own host key,
# config and user keys in .tools/sshd. Logins as $SSH_USER (a system user without shell or home,
# created here) by key (ed25519, passphrase-protected ed25519, RSA, ECDSA) or by password.
SSH_PORT=${S3SYNC_TEST_SSH_PORT:-2222}
SSH_USER=s3sync-ssh
SSH_PASSPHRASE=s3sync-test-passphrase
sshd_bin=/usr/sbin/sshd
sshd_dir="$tools/sshd"
ssh_env=
if [ "$(id -u)" != 0 ]; then
  log "not root: no test sshd (it needs a system user); the SSH tunnel tests will be skipped"
else
  if [ ! -x "$sshd_bin" ]; then
    # Keep the package from starting the system's own sshd on port 22.
    guard=
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
      chmod +x /usr/sbin/policy-rc.d
      guard=1
    fi
    apt_install openssh-server
    if [ -n "$guard" ]; then rm -f /usr/sbin/policy-rc.d; fi
  fi
  mkdir -p "$sshd_dir" /run/sshd
  chmod 755 "$sshd_dir"
  if ! id "$SSH_USER" >/dev/null 2>&1; then
    log "creating system user $SSH_USER (no shell, no home) for the test sshd"
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$SSH_USER"
  fi
  # A random password, kept in .tools: the user must not be reachable with a published one.
  if [ ! -s "$sshd_dir/password" ]; then
    (umask 077; head -c 24 /dev/urandom | base64 | tr -d '/+=\n' >"$sshd_dir/password")
  fi
  SSH_PASS=$(cat "$sshd_dir/password")
  echo "$SSH_USER:$SSH_PASS" | chpasswd
  keygen() { # file type bits passphrase
    if [ ! -s "$sshd_dir/$1" ]; then
      ssh-keygen -q -t "$2" -b "$3" -N "$4" -C "s3sync-test-$1" -f "$sshd_dir/$1"
    fi
  }
  keygen ssh_host_ed25519_key ed25519 256 ""
  keygen id_ed25519 ed25519 256 ""
  keygen id_ed25519_encrypted ed25519 256 "$SSH_PASSPHRASE"
  keygen id_rsa rsa 3072 ""
  keygen id_ecdsa ecdsa 256 ""
  cat "$sshd_dir/id_ed25519.pub" "$sshd_dir/id_ed25519_encrypted.pub" "$sshd_dir/id_rsa.pub" \
    "$sshd_dir/id_ecdsa.pub" >"$sshd_dir/authorized_keys"
  chmod 644 "$sshd_dir/authorized_keys"
  known_host="[127.0.0.1]:$SSH_PORT"
  if [ "$SSH_PORT" = 22 ]; then known_host=127.0.0.1; fi
  echo "$known_host $(cut -d' ' -f1,2 "$sshd_dir/ssh_host_ed25519_key.pub")" >"$sshd_dir/known_hosts"
  # Port apart from ListenAddress, so tests can start a private instance with -p.
  cat >"$sshd_dir/sshd_config.new" <<CONF
ListenAddress 127.0.0.1
Port $SSH_PORT
PidFile $sshd_dir/sshd.pid
HostKey $sshd_dir/ssh_host_ed25519_key
AuthorizedKeysFile $sshd_dir/authorized_keys
AllowUsers $SSH_USER
PermitRootLogin no
PubkeyAuthentication yes
PasswordAuthentication yes
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AllowTcpForwarding yes
AllowAgentForwarding no
X11Forwarding no
PermitTTY no
MaxStartups 100
MaxSessions 100
LogLevel VERBOSE
CONF
  # OpenSSH 9.8+ penalizes addresses that fail to log in; the tests fail on purpose.
  if "$sshd_bin" -t -f "$sshd_dir/sshd_config.new" -o PerSourcePenalties=no 2>/dev/null; then
    echo "PerSourcePenalties no" >>"$sshd_dir/sshd_config.new"
  fi
  "$sshd_bin" -t -f "$sshd_dir/sshd_config.new"
  sshd_up() {
    local pid
    pid=$(cat "$sshd_dir/sshd.pid" 2>/dev/null) || return 1
    [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = sshd ]
  }
  if sshd_up && ! cmp -s "$sshd_dir/sshd_config.new" "$sshd_dir/sshd_config"; then
    log "restarting the test sshd: its config changed"
    kill "$(cat "$sshd_dir/sshd.pid")"
    for _ in $(seq 1 50); do sshd_up || break; sleep 0.1; done
  fi
  mv "$sshd_dir/sshd_config.new" "$sshd_dir/sshd_config"
  ssh_port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$SSH_PORT") 2>/dev/null; }
  if ! sshd_up; then
    if ssh_port_open; then
      # The test sshd of another s3sync checkout (an earlier session, another clone) may hold
      # the port: it is ours to replace. Anything else is left alone.
      for proc in /proc/[0-9]*; do
        if [ "$(cat "$proc/comm" 2>/dev/null)" = sshd ] && tr '\0' ' ' <"$proc/cmdline" 2>/dev/null | grep -q '/\.tools/sshd/sshd_config'; then
          log "stopping the test sshd of another checkout (pid ${proc#/proc/})"
          kill "${proc#/proc/}" 2>/dev/null || true
        fi
      done
      for _ in $(seq 1 50); do ssh_port_open || break; sleep 0.1; done
    fi
    if ssh_port_open; then
      log "127.0.0.1:$SSH_PORT is taken by another program; set S3SYNC_TEST_SSH_PORT to a free port"
      exit 1
    fi
    log "starting sshd on 127.0.0.1:$SSH_PORT (config $sshd_dir/sshd_config)"
    "$sshd_bin" -f "$sshd_dir/sshd_config" -E "$sshd_dir/sshd.log"
    for _ in $(seq 1 50); do ssh_port_open && break; sleep 0.1; done
    ssh_port_open || { log "sshd did not start; see $sshd_dir/sshd.log"; tail -n 20 "$sshd_dir/sshd.log" >&2; exit 1; }
  fi
  ssh_env="export S3SYNC_TEST_SSHD=$sshd_bin
export S3SYNC_TEST_SSH_CONFIG=$sshd_dir/sshd_config
export S3SYNC_TEST_SSH_HOST=127.0.0.1
export S3SYNC_TEST_SSH_PORT=$SSH_PORT
export S3SYNC_TEST_SSH_USER=$SSH_USER
export S3SYNC_TEST_SSH_PASSWORD=$SSH_PASS
export S3SYNC_TEST_SSH_KEY=$sshd_dir/id_ed25519
export S3SYNC_TEST_SSH_KEY_ENCRYPTED=$sshd_dir/id_ed25519_encrypted
export S3SYNC_TEST_SSH_KEY_PASSPHRASE=$SSH_PASSPHRASE
export S3SYNC_TEST_SSH_KEY_RSA=$sshd_dir/id_rsa
export S3SYNC_TEST_SSH_KEY_ECDSA=$sshd_dir/id_ecdsa
export S3SYNC_TEST_SSH_HOST_KEY=$sshd_dir/ssh_host_ed25519_key.pub
export S3SYNC_TEST_SSH_KNOWN_HOSTS=$sshd_dir/known_hosts"
fi

cat >"$tools/test-env.sh" <<ENV
export S3SYNC_TEST_PG_URL=postgres://$PG_USER:$PG_PASS@127.0.0.1:$PG_PORT/postgres?sslmode=disable
export S3SYNC_TEST_S3_ENDPOINT=http://127.0.0.1:$S3_PORT
export S3SYNC_TEST_S3_ACCESS_KEY=$S3_ACCESS
export S3SYNC_TEST_S3_SECRET_KEY=$S3_SECRET
ENV
if [ -n "$ssh_env" ]; then
  printf '%s\n' "$ssh_env" >>"$tools/test-env.sh"
  log "ready: sshd 127.0.0.1:$SSH_PORT"
fi
log "ready: PostgreSQL 127.0.0.1:$PG_PORT, S3 http://127.0.0.1:$S3_PORT (env in .tools/test-env.sh)"
