#!/usr/bin/env bash
# Installs the Debian packages the engine and its tests need (idempotent).
# unison itself is built from pinned source by `make deps` (unison/build.sh),
# which needs an OCaml compiler (ocaml-nox), make and patch, and the verifier's
# helper (helpers/treesig.c) a C compiler; Debian's unison
# package is not used.
set -euo pipefail
need=()
command -v ocamlopt >/dev/null || need+=(ocaml-nox)
command -v make >/dev/null || need+=(make)
command -v patch >/dev/null || need+=(patch)
# the drift verifier's helper (helpers/treesig.c; ocaml-nox brings gcc too)
command -v cc >/dev/null || need+=(gcc)
command -v bindfs >/dev/null || need+=(bindfs)
# the tests' case-insensitive host folder (exFAT through FUSE on a loop device)
command -v mkfs.exfat >/dev/null || need+=(exfatprogs)
command -v mount.exfat-fuse >/dev/null || need+=(exfat-fuse)
# the status view's test in a real terminal
command -v tmux >/dev/null || need+=(tmux)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "system-deps: please install: ${need[*]} (as root: apt-get install ${need[*]})" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
