#!/usr/bin/env bash
# make release: cross-compiles static s3sync binaries, the version stamped in, with SHA256SUMS.
#   dist/s3sync_<version>_<os>_<arch>   one plain executable per target (chmod +x after download)
#   dist/SHA256SUMS                      sha256sum's format: `sha256sum -c --ignore-missing SHA256SUMS`
# Settings (environment):
#   VERSION  stamped as main.version and used in the names; default: git describe --tags --always
#            --dirty, else "dev". Letters, digits and . _ + - only.
#   TARGETS  os/arch pairs separated by spaces; default: the five release targets below.
#   DIST     the output folder; default: dist (git-ignored). Earlier s3sync_* files there go.
# The binaries are static (CGO_ENABLED=0), reproducible from the same commit (-trimpath), and
# stripped (-s -w); each records the commit it was built from (see `s3sync version`).
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
TARGETS=${TARGETS:-linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 freebsd/amd64}
DIST=${DIST:-dist}

log() { printf 'release: %s\n' "$*" >&2; }

VERSION=${VERSION:-}
if [ -z "$VERSION" ]; then
  VERSION=$(git describe --tags --always --dirty 2>/dev/null || true)
  VERSION=${VERSION:-dev}
fi
case $VERSION in
  *[!A-Za-z0-9._+-]* | [!A-Za-z0-9]*)
    log "VERSION '$VERSION': use letters, digits and . _ + - only, starting with a letter or digit"
    exit 2
    ;;
esac

for target in $TARGETS; do
  case $target in
    [a-z]*/[a-z0-9]*) ;;
    *) log "TARGETS: '$target' is not os/arch, e.g. linux/amd64"; exit 2 ;;
  esac
done

mkdir -p "$DIST"
rm -f "$DIST"/s3sync_* "$DIST/SHA256SUMS"
built=()
for target in $TARGETS; do
  os=${target%%/*} arch=${target#*/}
  name="s3sync_${VERSION}_${os}_${arch}"
  log "building $DIST/$name"
  # -buildvcs=auto wins over a GOFLAGS=-buildvcs=false: the binary names its commit.
  CGO_ENABLED=0 GOOS=$os GOARCH=$arch "$GO" build -buildvcs=auto -trimpath \
    -ldflags "-s -w -X main.version=$VERSION" -o "$DIST/$name" ./cmd/s3sync
  built+=("$name")
done
(cd "$DIST" && sha256sum "${built[@]}" >SHA256SUMS.tmp && mv SHA256SUMS.tmp SHA256SUMS)
log "wrote $DIST/SHA256SUMS (${#built[@]} binaries, version $VERSION)"
