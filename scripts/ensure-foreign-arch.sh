#!/usr/bin/env bash
# `scripts/ensure-foreign-arch.sh ARCH` (arm64, amd64): lets this Linux machine's
# Docker engine run ARCH binaries under qemu-user-static (idempotent).
#
# Docker Desktop does this itself (inside its VM, out of this script's sight),
# so for anyone but root this only checks and explains. As root (a bare Debian
# machine, CI): installs Debian's qemu-user-static and binfmt-support, mounts
# binfmt_misc where it is not mounted, and enables the qemu-ARCH handler. Its
# F (fix-binary) flag lets containers use the interpreter without a copy inside.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
ARCH=${1:?usage: ensure-foreign-arch.sh ARCH}
case "$ARCH" in
  arm64 | aarch64) qemu=aarch64 ;;
  amd64 | x86_64) qemu=x86_64 ;;
  *) echo "ensure-foreign-arch: unknown arch $ARCH" >&2; exit 2 ;;
esac
BINFMT=/proc/sys/fs/binfmt_misc

log() { echo "ensure-foreign-arch: $*" >&2; }

[ "$(uname -s)" = Linux ] || exit 0
[ -e "$BINFMT/qemu-$qemu" ] && grep -q '^enabled' "$BINFMT/qemu-$qemu" && exit 0
if [ "$(id -u)" != 0 ]; then
  log "no qemu-$qemu handler in $BINFMT here; if the build fails with 'exec format error',"
  log "ask root to run: bash scripts/ensure-foreign-arch.sh $ARCH"
  exit 0
fi
if [ ! -e "/usr/bin/qemu-$qemu-static" ] || ! command -v update-binfmts >/dev/null; then
  log "installing qemu-user-static binfmt-support"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends qemu-user-static binfmt-support </dev/null >/dev/null
fi
if ! mountpoint -q "$BINFMT"; then
  log "mounting binfmt_misc on $BINFMT"
  mount -t binfmt_misc binfmt_misc "$BINFMT"
fi
update-binfmts --enable "qemu-$qemu" >/dev/null 2>&1 || update-binfmts --import "qemu-$qemu"
grep -q '^enabled' "$BINFMT/qemu-$qemu" || { log "qemu-$qemu did not register"; exit 1; }
log "qemu-$qemu registered ($(sed -n 's/^flags: //p' "$BINFMT/qemu-$qemu"))"
