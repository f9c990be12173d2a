#!/usr/bin/env bash
# Builds the native-sync image: `scripts/build-image.sh [IMAGE]` (or `make image
# IMAGE=name:tag`; default native-sync:dev).
#
# Offline-friendly: pip inside `docker build` cannot reach PyPI everywhere (here
# it cannot verify TLS), so the runtime wheels are downloaded on the host into
# build/wheels/ (for the image's CPython 3.11, manylinux x86_64) and the
# Dockerfile installs from there. A plain `docker build .` without them installs
# from PyPI instead. Knobs: BASE_IMAGE (build arg), PY (python with pip),
# NATIVE_SYNC_WHEELS=0 (skip the download; the build then uses PyPI).
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${1:-${IMAGE:-native-sync:dev}}
BASE_IMAGE=${BASE_IMAGE:-debian:bookworm-slim}
PY=${PY:-python3}
WHEELS=build/wheels

log() { echo "build-image: $*" >&2; }

# A Docker engine, and the base image (built with debootstrap when no registry has it).
BASE_IMAGE=$BASE_IMAGE bash scripts/ensure-docker.sh

rm -rf "$WHEELS"
if [ "${NATIVE_SYNC_WHEELS:-1}" != 0 ]; then
  log "downloading wheels for requirements.txt into $WHEELS"
  mkdir -p "$WHEELS"
  # --only-binary with explicit tags: wheels for the image's python, not the host's.
  "$PY" -m pip download --quiet --disable-pip-version-check \
    --dest "$WHEELS" --only-binary=:all: \
    --implementation cp --python-version 3.11 --abi cp311 --abi abi3 --abi none \
    --platform manylinux_2_36_x86_64 --platform manylinux_2_28_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --platform manylinux_2_12_x86_64 --platform manylinux2010_x86_64 --platform any \
    -r requirements.txt 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
fi

log "building $IMAGE (base $BASE_IMAGE)"
start=$SECONDS
# --network host: apt inside the build reaches the Debian mirror the host reaches.
docker build --network host --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "$IMAGE" .
size=$(docker image inspect --format '{{.Size}}' "$IMAGE")
log "built $IMAGE in $((SECONDS - start)) s: $((size / 1000000)) MB"
