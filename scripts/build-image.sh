#!/usr/bin/env bash
# Builds the native-sync image: `scripts/build-image.sh [IMAGE]`, or
# `make image [IMAGE=name:tag] [PLATFORM=linux/arm64]` (default native-sync:dev,
# for the engine's own platform).
#
# IMAGE_VERSION, IMAGE_REVISION, IMAGE_SOURCE, IMAGE_LICENSES: what the image
# says about itself (below; scripts/release.sh sets them).
#
# Works for any user whose `docker info` answers (Docker Desktop, a Linux user
# in the docker group): nothing is installed and no daemon started then. Only
# root on a machine where no engine answers gets one (scripts/ensure-docker.sh).
#
# The base image (debian:bookworm-slim unless BASE_IMAGE is given):
#   1. present locally for PLATFORM: used as it is;
#   2. else, for anyone but root, or when a registry answers: `docker build`
#      pulls it (Docker Desktop pulls the PLATFORM variant);
#   3. else (root, no registry: this project's CI) scripts/ensure-base.sh builds it
#      with debootstrap: as debian:bookworm-slim for the engine's own platform,
#      as native-sync-base:bookworm-slim-ARCH for another one, so that the two
#      never overwrite each other.
#
# Python packages: when the host has a python3 with pip (PY), the wheels for
# PLATFORM's CPython 3.11 are downloaded on the host into build/wheels/ and the
# build installs only those (pip --no-index: it needs no network, no TLS). When
# the host has no pip, or the download fails, build/wheels/ stays empty and pip
# inside the build installs from PyPI (the plain `docker build .` route).
# NATIVE_SYNC_WHEELS=0 forces the plain route, =1 makes a failed download fatal.
#
# Another platform than the engine's builds under emulation: Docker Desktop has
# it; on Linux, root gets qemu-user-static + binfmt_misc (scripts/ensure-foreign-arch.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${1:-${IMAGE:-native-sync:dev}}
PY=${PY:-python3}
WHEELS=build/wheels
WANT_WHEELS=${NATIVE_SYNC_WHEELS:-auto}

log() { echo "build-image: $*" >&2; }
is_root() { [ "$(id -u)" = 0 ]; }

bash scripts/ensure-docker.sh

engine_platform=$(docker version --format '{{.Server.Os}}/{{.Server.Arch}}')
PLATFORM=${PLATFORM:-$engine_platform}
arch=${PLATFORM#*/}
case "$arch" in
  amd64) wheel_arch=x86_64 ;;
  arm64) wheel_arch=aarch64 ;;
  *) log "PLATFORM=$PLATFORM: only linux/amd64 and linux/arm64 are built"; exit 2 ;;
esac
# The version and provenance the image says (`native-sync --version`, its OCI
# labels): pyproject.toml's version and this checkout's commit (`-dirty` with
# uncommitted changes) unless scripts/release.sh gives a release's.
VERSION=${IMAGE_VERSION:-$(sed -n 's/^version = "\(.*\)"$/\1/p' pyproject.toml | head -n 1)}
if [ -z "${IMAGE_REVISION:-}" ] && IMAGE_REVISION=$(git rev-parse HEAD 2>/dev/null); then
  [ -z "$(git status --porcelain --untracked-files=no)" ] || IMAGE_REVISION+=-dirty
fi
provenance=(--build-arg "VERSION=$VERSION" --build-arg "REVISION=${IMAGE_REVISION:-unknown}")
[ -z "${IMAGE_SOURCE:-}" ] || provenance+=(--build-arg "SOURCE=$IMAGE_SOURCE")
[ -z "${IMAGE_LICENSES:-}" ] || provenance+=(--build-arg "LICENSES=$IMAGE_LICENSES")

# --- the base image -------------------------------------------------------------
local_arch() { docker image inspect --format '{{.Architecture}}' "$1" 2>/dev/null || true; }
if [ -z "${BASE_IMAGE:-}" ]; then
  BASE_IMAGE=debian:bookworm-slim
  if [ "$(local_arch "$BASE_IMAGE")" != "$arch" ]; then
    own=native-sync-base:bookworm-slim-$arch
    [ "$PLATFORM" = "$engine_platform" ] && own=$BASE_IMAGE
    if [ "$(local_arch "$own")" = "$arch" ]; then
      BASE_IMAGE=$own
    elif is_root && ! timeout 60 docker manifest inspect "$BASE_IMAGE" >/dev/null 2>&1; then
      log "no registry answers for $BASE_IMAGE: building the base with debootstrap"
      bash scripts/ensure-base.sh "$own" "$PLATFORM"
      BASE_IMAGE=$own
    else
      log "$BASE_IMAGE ($PLATFORM) is not here: docker build pulls it"
    fi
  fi
fi
[ "$PLATFORM" = "$engine_platform" ] || bash scripts/ensure-foreign-arch.sh "$arch"

# --- the wheels -------------------------------------------------------------------
rm -rf "$WHEELS"
if [ "$WANT_WHEELS" != 0 ] && "$PY" -m pip --version >/dev/null 2>&1; then
  log "downloading wheels for requirements.txt ($wheel_arch) into $WHEELS"
  mkdir -p "$WHEELS"
  # --only-binary with explicit tags: wheels for the image's python, not the host's.
  platforms=()
  for tag in manylinux_2_36 manylinux_2_28 manylinux_2_17 manylinux2014; do
    platforms+=(--platform "${tag}_$wheel_arch")
  done
  [ "$wheel_arch" = x86_64 ] && platforms+=(--platform manylinux_2_12_x86_64 --platform manylinux2010_x86_64)
  if ! "$PY" -m pip download --quiet --disable-pip-version-check --no-cache-dir \
    --dest "$WHEELS" --only-binary=:all: \
    --implementation cp --python-version 3.11 --abi cp311 --abi abi3 --abi none \
    "${platforms[@]}" --platform any \
    -r requirements.txt 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); then
    [ "$WANT_WHEELS" = 1 ] && { log "the wheel download failed (NATIVE_SYNC_WHEELS=1)"; exit 1; }
    log "the wheel download failed: pip inside the build installs from PyPI instead"
    rm -rf "$WHEELS"
  fi
elif [ "$WANT_WHEELS" = 1 ]; then
  log "NATIVE_SYNC_WHEELS=1 but $PY has no pip"
  exit 1
else
  log "no wheels downloaded ($PY has no pip, or NATIVE_SYNC_WHEELS=0): pip inside the build uses PyPI"
fi

# --- the unison source -------------------------------------------------------------
# The pinned release tarball from the vendor folder (NATIVE_SYNC_VENDOR, else
# ../shared/vendor beside the repository) into build/unison-src/, where the
# Dockerfile's unison stage finds it; without it, the stage downloads the release.
UNISON_VERSION=$(sed -n 's/^version=\([0-9.]*\)$/\1/p' unison/build.sh | head -n 1)
rm -rf build/unison-src
vendor=${NATIVE_SYNC_VENDOR:-../shared/vendor}
if [ -f "$vendor/unison-$UNISON_VERSION.tar.gz" ]; then
  mkdir -p build/unison-src
  cp "$vendor/unison-$UNISON_VERSION.tar.gz" build/unison-src/
  log "unison $UNISON_VERSION source from $vendor"
else
  log "no $vendor/unison-$UNISON_VERSION.tar.gz: the build downloads unison $UNISON_VERSION"
fi

# --- the build ------------------------------------------------------------------
log "building $IMAGE $VERSION for $PLATFORM (base $BASE_IMAGE)"
start=$SECONDS
# --network host: apt inside the build reaches the Debian mirror the host reaches.
docker build --network host --platform "$PLATFORM" \
  --build-arg "BASE_IMAGE=$BASE_IMAGE" "${provenance[@]}" \
  -t "$IMAGE" .
size=$(docker image inspect --format '{{.Size}}' "$IMAGE")
log "built $IMAGE ($PLATFORM) in $((SECONDS - start)) s: $((size / 1000000)) MB"
