#!/usr/bin/env bash
# Publishes a release: `scripts/release.sh VERSION REPOSITORY`, for example
#   scripts/release.sh 0.2.0 ghcr.io/native-sync/native-sync
#   scripts/release.sh 0.2.0 127.0.0.1:5000/native-sync        (tests/docker/test_release.py)
# .github/workflows/release.yml runs it on a v* tag after logging in to ghcr.io.
#
# For each platform (PLATFORMS, default "linux/amd64 linux/arm64"; the one that is
# not the engine's builds under qemu-user-static), scripts/build-image.sh builds
# REPOSITORY:VERSION-ARCH with VERSION (`native-sync --version` prints it) and the
# OCI labels version, revision (this commit), source and licenses; its
# `--version` is checked, and it is pushed. Then one multi-arch tag, a manifest
# list of those per-arch images: REPOSITORY:VERSION, and REPOSITORY:latest when
# VERSION is a release (X.Y.Z, not a pre-release such as 1.0.0-rc.1).
#
# Plain `docker build`, `docker push` and `docker manifest` (Debian's Docker
# 20.10 has no buildx): it runs the same on a GitHub runner and here. A registry
# on loopback (127.0.0.0/8, localhost) is spoken to over plain HTTP, as dockerd
# allows for it by default.
#
# Refuses a checkout with uncommitted changes (the revision label would lie)
# unless RELEASE_ALLOW_DIRTY=1; the revision then ends in -dirty.
# SOURCE_URL (default: the GitHub repository) and LICENSES label the image.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "release: $*" >&2; }
die() { log "$*"; exit 2; }

[ $# = 2 ] || die "usage: scripts/release.sh VERSION REPOSITORY (e.g. 0.2.0 ghcr.io/native-sync/native-sync)"
VERSION=$1
REPOSITORY=$2
PLATFORMS=${PLATFORMS:-linux/amd64 linux/arm64}

[[ $VERSION =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]] ||
  die "VERSION $VERSION is not X.Y.Z or X.Y.Z-PRERELEASE (a tag v0.2.0 is released as 0.2.0)"
[[ $REPOSITORY =~ ^[a-z0-9.:-]+(/[a-z0-9._-]+)+$ ]] ||
  die "REPOSITORY $REPOSITORY is not a lower-case registry/name without a tag (e.g. ghcr.io/OWNER/native-sync)"
tags=("$VERSION")
[[ $VERSION == *-* ]] || tags+=(latest)

revision=$(git rev-parse HEAD)
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
  [ "${RELEASE_ALLOW_DIRTY:-0}" = 1 ] || die "uncommitted changes: commit them first (or RELEASE_ALLOW_DIRTY=1)"
  revision+=-dirty
fi
project_version=$(sed -n 's/^version = "\(.*\)"$/\1/p' pyproject.toml | head -n 1)
[ "${VERSION%%-*}" = "$project_version" ] ||
  log "warning: VERSION $VERSION is not pyproject.toml's $project_version (host-mode --version says that)"

# `docker manifest` is experimental in Docker 20.10's CLI; newer ones ignore this.
export DOCKER_CLI_EXPERIMENTAL=enabled
insecure=()
case "${REPOSITORY%%/*}" in
  localhost | localhost:* | 127.*) insecure=(--insecure) ;;
esac

export IMAGE_VERSION=$VERSION IMAGE_REVISION=$revision
export IMAGE_SOURCE=${SOURCE_URL:-https://github.com/native-sync/native-sync}
# unison, the image's sync engine, is GPL-3.0-or-later.
export IMAGE_LICENSES=${LICENSES:-GPL-3.0-or-later}

start=$SECONDS
images=()
for platform in $PLATFORMS; do
  image=$REPOSITORY:$VERSION-${platform#*/}
  PLATFORM=$platform bash scripts/build-image.sh "$image"
  said=$(docker run --rm --network none "$image" --version)
  [ "$said" = "$VERSION" ] || die "$image: native-sync --version says $said, not $VERSION"
  log "pushing $image"
  docker push "$image" >/dev/null
  images+=("$image")
done

for tag in "${tags[@]}"; do
  list=$REPOSITORY:$tag
  docker manifest rm "$list" >/dev/null 2>&1 || true # a stale local list from an earlier run
  docker manifest create "${insecure[@]}" "$list" "${images[@]}" >/dev/null
  digest=$(docker manifest push "${insecure[@]}" --purge "$list")
  log "published $list ($PLATFORMS): $digest"
done
log "released $VERSION (revision $revision) in $((SECONDS - start)) s; pull: docker pull $REPOSITORY:$VERSION"
