#!/usr/bin/env bash
# Installs the Debian packages the engine and its tests need (idempotent).
set -euo pipefail
need=()
command -v unison >/dev/null || need+=(unison)
command -v bindfs >/dev/null || need+=(bindfs)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "system-deps: please install: ${need[*]} (apt-get install ${need[*]})" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
