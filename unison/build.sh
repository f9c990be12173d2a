#!/usr/bin/env bash
# Builds unison from pinned upstream source, with this project's patches
# (unison/patches/NNNN-*.patch, DEP-3 headers, applied in order with patch -p1).
#
#   unison/build.sh [--stock] [--fsmonitor] [--version V] PREFIX
#
# installs PREFIX/bin/unison (stripped) and, with --fsmonitor, unison's own
# OCaml file monitor as PREFIX/bin/unison-fsmonitor-ocaml (another name, so that
# it never shadows this project's Python unison-fsmonitor on PATH; the
# benchmarks run it as a peer). --stock builds the pristine release, no patches
# (tests and benchmarks compare against it). --version 2.52.1 (stock only)
# builds what Debian bookworm ships, for the archive-compatibility test.
#
# The source: $UNISON_TARBALL, else unison-V.tar.gz in $NATIVE_SYNC_VENDOR,
# ../shared/vendor (beside the repository) or build/unison-src/ (the image
# build's context), else downloaded from the unison project's GitHub tag. It is
# pinned by the sha256 of the tar inside the gzip (the gzip bytes of GitHub's
# archive may change, the files do not).
#
# Cached: nothing is built when PREFIX already holds a build of the same
# source and patches (PREFIX/.build-stamp), with the fsmonitor if asked for. Needs make, patch and
# an OCaml compiler (Debian: ocaml-nox; scripts/system-deps.sh installs them).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
version=2.54.0
stock=0
fsmonitor=0
prefix=
log() { echo "unison/build.sh: $*" >&2; }
usage() {
  echo "usage: unison/build.sh [--stock] [--fsmonitor] [--version 2.54.0|2.52.1] PREFIX" >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case "$1" in
    --stock) stock=1 ;;
    --fsmonitor) fsmonitor=1 ;;
    --version) [ $# -ge 2 ] || usage; version=$2; shift ;;
    --version=*) version=${1#--version=} ;;
    -h | --help) usage ;;
    -*) log "unknown option $1"; usage ;;
    *) [ -z "$prefix" ] || usage; prefix=$1 ;;
  esac
  shift
done
[ -n "$prefix" ] || usage

# sha256 of the tar inside upstream's gzip (git archive --prefix=unison-V/ vV).
case "$version" in
  2.54.0) tar_sha=ebbc952446bf21f5500c70944091bbc923517cb443866e3b750a87e0c7c83604 ;;
  2.52.1) tar_sha=c91d23ad76efa423f63ef06070d405167808c7982f26ca9bfb91af8b7a2615df ;;
  *) log "unison $version is not pinned here (2.54.0, 2.52.1)"; exit 2 ;;
esac
patches=()
if [ "$stock" = 0 ]; then
  [ "$version" = 2.54.0 ] || { log "the patches are for 2.54.0; build $version with --stock"; exit 2; }
  for p in "$here"/patches/[0-9][0-9][0-9][0-9]-*.patch; do
    [ -e "$p" ] && patches+=("$p")
  done
fi

for tool in make patch ocamlopt; do
  command -v "$tool" >/dev/null || {
    log "$tool is missing: run scripts/system-deps.sh as root (Debian: apt-get install ocaml-nox make patch)"
    exit 1
  }
done

# --- the stamp: source, patches and options -----------------------------------
stamp_of() {
  {
    echo "unison $version tar-sha256 $tar_sha stock=$stock"
    for p in "${patches[@]}"; do
      echo "patch $(basename "$p") $(sha256sum < "$p" | cut -d' ' -f1)"
    done
  } | sha256sum | cut -d' ' -f1
}
stamp=$(stamp_of)
mkdir -p "$prefix"
prefix=$(cd "$prefix" && pwd)
# One build per prefix at a time (parallel test sessions).
exec 9>"$prefix/.build-lock"
flock 9
# A build with the fsmonitor also serves a request without it.
if [ -x "$prefix/bin/unison" ] && [ "$(cat "$prefix/.build-stamp" 2>/dev/null)" = "$stamp" ] &&
  { [ "$fsmonitor" = 0 ] || [ -x "$prefix/bin/unison-fsmonitor-ocaml" ]; }; then
  log "$prefix/bin/unison is up to date (unison $version$([ "$stock" = 1 ] && echo ', stock'))"
  exit 0
fi

# --- the source ------------------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/unison-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
tarball=${UNISON_TARBALL:-}
if [ -z "$tarball" ]; then
  for dir in ${NATIVE_SYNC_VENDOR:+"$NATIVE_SYNC_VENDOR"} "$repo/../shared/vendor" "$repo/build/unison-src"; do
    if [ -f "$dir/unison-$version.tar.gz" ]; then
      tarball=$dir/unison-$version.tar.gz
      break
    fi
  done
fi
if [ -z "$tarball" ]; then
  url=https://github.com/bcpierce00/unison/archive/refs/tags/v$version.tar.gz
  log "downloading $url"
  tarball=$work/unison-$version.tar.gz
  if command -v curl >/dev/null; then
    curl -fsSL --retry 3 -o "$tarball" "$url"
  else
    wget -q -O "$tarball" "$url"
  fi
fi
got=$(gzip -dc "$tarball" | sha256sum | cut -d' ' -f1)
if [ "$got" != "$tar_sha" ]; then
  log "$tarball: the tar inside has sha256 $got, not the pinned $tar_sha"
  exit 1
fi
tar -xzf "$tarball" -C "$work"
src=$work/unison-$version
[ -d "$src/src" ] || { log "$tarball does not hold unison-$version/src"; exit 1; }

for p in "${patches[@]}"; do
  log "applying $(basename "$p")"
  patch -d "$src" -p1 --batch --forward --quiet < "$p"
done

# --- the build -------------------------------------------------------------------
start=$SECONDS
jobs=$(nproc 2>/dev/null || echo 2)
log "building unison $version$([ "$stock" = 1 ] && echo ' (stock)') in $src"
if [ "$version" = 2.52.1 ]; then
  # Before 2.53.4 the UI is chosen with UISTYLE; `all` builds the fsmonitor too.
  make -C "$src" UISTYLE=text >"$work/build.log" 2>&1 || { tail -n 40 "$work/build.log" >&2; exit 1; }
else
  targets=(tui)
  [ "$fsmonitor" = 1 ] && targets+=(fsmonitor)
  # The top Makefile is .NOTPARALLEL; src/'s is fine with -j.
  make -C "$src/src" -j"$jobs" "${targets[@]}" >"$work/build.log" 2>&1 || {
    tail -n 40 "$work/build.log" >&2
    exit 1
  }
fi

# --- the install -----------------------------------------------------------------
rm -f "$prefix/.build-stamp"
mkdir -p "$prefix/bin"
strip -o "$work/unison" "$src/src/unison"
install -m 0755 "$work/unison" "$prefix/bin/unison"
rm -f "$prefix/bin/unison-fsmonitor-ocaml"
if [ "$fsmonitor" = 1 ]; then
  strip -o "$work/unison-fsmonitor" "$src/src/unison-fsmonitor"
  install -m 0755 "$work/unison-fsmonitor" "$prefix/bin/unison-fsmonitor-ocaml"
fi
echo "$stamp" >"$prefix/.build-stamp"
log "installed $prefix/bin/unison$([ "$fsmonitor" = 1 ] && echo ' and unison-fsmonitor-ocaml') in $((SECONDS - start)) s"
