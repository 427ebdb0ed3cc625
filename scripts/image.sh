#!/usr/bin/env bash
# make image: builds the container image of Containerfile with Debian's buildah, no registry.
#   1. the static linux binary for this machine's architecture, with scripts/release.sh
#   2. a build context: that binary, the CA bundle, passwd and group lines for 65532, data/
#   3. buildah build, tagged $IMAGE:<version> and $IMAGE:latest (in root's containers storage,
#      which podman shares: `podman run --rm ghcr.io/s3sync/s3sync:latest --version`)
# Installs buildah from Debian's packages when it is missing (as root).
# Settings (environment):
#   VERSION  as for make release (default: git describe --tags --always --dirty, else dev)
#   IMAGE    the image name; default ghcr.io/s3sync/s3sync
#   ARCH     the image's architecture (GOARCH); default: this machine's
#   WORK     where the binary and the context are staged; default dist/image (git-ignored)
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
IMAGE=${IMAGE:-ghcr.io/s3sync/s3sync}
ARCH=${ARCH:-$("$GO" env GOARCH)}
WORK=${WORK:-dist/image}

log() { printf 'image: %s\n' "$*" >&2; }

VERSION=${VERSION:-}
if [ -z "$VERSION" ]; then
  VERSION=$(git describe --tags --always --dirty 2>/dev/null || true)
  VERSION=${VERSION:-dev}
fi
# A tag is [A-Za-z0-9_.-]: a version's + (build metadata) becomes -.
tag=${VERSION//+/-}

if ! command -v buildah >/dev/null 2>&1; then
  if [ "$(id -u)" != 0 ]; then
    log "buildah is missing; install it (apt-get install buildah) or run as root"
    exit 1
  fi
  log "installing buildah (Debian's package)"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq buildah >/dev/null
fi
certs=/etc/ssl/certs/ca-certificates.crt
if [ ! -s "$certs" ]; then
  if [ "$(id -u)" != 0 ]; then
    log "$certs is missing; install Debian's ca-certificates"
    exit 1
  fi
  log "installing ca-certificates (Debian's package)"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ca-certificates >/dev/null
fi

# 1. The binary, outside the image.
VERSION=$VERSION TARGETS="linux/$ARCH" DIST="$WORK" GO="$GO" scripts/release.sh

# 2. The context: exactly what the Containerfile copies.
ctx="$WORK/context"
rm -rf "$ctx"
mkdir -p "$ctx/data"
install -m 0755 "$WORK/s3sync_${VERSION}_linux_${ARCH}" "$ctx/s3sync"
install -m 0644 "$certs" "$ctx/ca-certificates.crt"
echo 's3sync:x:65532:65532:s3sync:/data:/sbin/nologin' >"$ctx/passwd"
echo 's3sync:x:65532:' >"$ctx/group"
chmod 0644 "$ctx/passwd" "$ctx/group"
chmod 0755 "$ctx/data"

# 3. The image.
log "building $IMAGE:$tag and $IMAGE:latest"
buildah build --quiet --pull=never --arch "$ARCH" --os linux --build-arg "VERSION=$VERSION" \
  -f Containerfile -t "$IMAGE:$tag" -t "$IMAGE:latest" "$ctx"
log "built $IMAGE:$tag and $IMAGE:latest (run: podman run --rm $IMAGE:latest --version)"
