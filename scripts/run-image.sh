#!/usr/bin/env bash
# `make run [SRC=folder] [IMAGE=name:tag]`: starts a native-sync container that
# keeps SRC (default examples/project) in sync with a named volume, the way an
# app container would use it. Run by `make run` after `make image`.
# A container of the same name (from an earlier `make run` on the same folder)
# is replaced; its volumes are kept, so the restart is warm.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE=${1:-native-sync:dev}
SRC=${2:-examples/project}
# zsh (macOS's shell) leaves the ~ of `make run SRC=~/code/app` to us.
case "$SRC" in "~") SRC=$HOME ;; "~/"*) SRC=$HOME/${SRC#"~/"} ;; esac
[ -d "$SRC" ] || { echo "run-image: SRC=$SRC is not a folder" >&2; exit 2; }
src=$(cd "$SRC" && pwd -P)
# Names from the folder: native-sync-<folder>, and its two volumes.
slug=$(basename "$src" | tr -c 'a-zA-Z0-9_.\n-' '-' | sed 's/^[-.]*//')
name=native-sync-${slug:-root}
app_vol=$name-app
unison_vol=$name-unison

# GNU stat (Linux) or BSD stat (macOS).
owner() { stat -c "$1" "$src" 2>/dev/null || stat -f "$1" "$src"; }

if docker container inspect "$name" >/dev/null 2>&1; then
  echo "run-image: replacing the container $name" >&2
  docker rm -f "$name" >/dev/null
fi
# Unison writes into SRC as the folder's owner, so files made in the app
# volume show up on the host owned by you, not by root.
docker run -d --name "$name" --network none \
  -v "$src:/host_sync" -v "$app_vol:/app_sync" -v "$unison_vol:/unison" \
  -e OWNER_UID="$(owner %u)" -e GROUP_ID="$(owner %g)" \
  "$IMAGE" >/dev/null

cat <<MSG
native-sync is syncing $src <-> volume $app_vol (container $name).
  health:         docker inspect -f '{{.State.Health.Status}}' $name
  status:         docker exec $name native-sync status   (--json for scripts)
  logs:           docker logs -f $name
  the app side:   docker run --rm --network none -v $app_vol:/app_sync $IMAGE ls -la /app_sync
  use it:         docker run --rm -it -v $app_vol:/app your-app-image
  stop:           docker stop $name          (flushes pending changes first)
  remove all:     docker rm -f $name && docker volume rm $app_vol $unison_vol
MSG
