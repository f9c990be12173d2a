#!/usr/bin/env bash
# `scripts/ensure-base.sh BASE_IMAGE PLATFORM`: builds the Debian base image for
# PLATFORM (linux/amd64, linux/arm64) with debootstrap and tags it BASE_IMAGE,
# for a machine whose engine reaches no registry (this project's CI). Run as
# root; scripts/build-image.sh decides when (see there). A foreign
# architecture runs debootstrap's second stage under qemu-user-static
# (scripts/ensure-foreign-arch.sh). Knob: DEBIAN_SUITE (default bookworm).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
BASE_IMAGE=${1:?usage: ensure-base.sh BASE_IMAGE PLATFORM}
PLATFORM=${2:?usage: ensure-base.sh BASE_IMAGE PLATFORM}
DEBIAN_SUITE=${DEBIAN_SUITE:-bookworm}
arch=${PLATFORM#*/}
here=$(dirname "$0")

log() { echo "ensure-base: $*" >&2; }

[ "$(id -u)" = 0 ] || { log "debootstrap needs root"; exit 1; }
if ! command -v debootstrap >/dev/null; then
  log "installing debootstrap"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends debootstrap </dev/null >/dev/null
fi
[ "$arch" = "$(dpkg --print-architecture)" ] || bash "$here/ensure-foreign-arch.sh" "$arch"

log "building $BASE_IMAGE ($PLATFORM) with debootstrap ($DEBIAN_SUITE, minbase)"
start=$SECONDS
rootfs=$(mktemp -d /var/tmp/native-sync-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
debootstrap_log=/var/log/debootstrap-native-sync-$arch.log
debootstrap --variant=minbase --arch="$arch" "$DEBIAN_SUITE" "$rootfs" >"$debootstrap_log" 2>&1 || {
  log "debootstrap failed; last lines of $debootstrap_log:"
  tail -n 20 "$debootstrap_log" >&2
  exit 1
}
# Make it a -slim image as Debian's own is made: dpkg skips docs, man pages
# and translations (for later apt installs too), apt keeps no caches.
cat >"$rootfs"/etc/dpkg/dpkg.cfg.d/docker-slim <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/overrides/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
CFG
cat >"$rootfs"/etc/apt/apt.conf.d/docker-clean <<'CFG'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
CFG
# The same sources as Debian's own image: the release, its updates, security.
rm -f "$rootfs"/etc/apt/sources.list
cat >"$rootfs"/etc/apt/sources.list.d/debian.sources <<CFG
Types: deb
URIs: http://deb.debian.org/debian
Suites: $DEBIAN_SUITE $DEBIAN_SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: $DEBIAN_SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
CFG
find "$rootfs"/usr/share/doc -mindepth 2 ! -name copyright ! -type d -delete
find "$rootfs"/usr/share/doc -mindepth 1 -type d -empty -delete
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin \
  "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/usr/share/info/* \
  "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/* "$rootfs"/usr/share/groff/* \
  "$rootfs"/usr/share/lintian/overrides/* "$rootfs"/var/log/*.log \
  "$rootfs"/var/cache/debconf/*-old "$rootfs"/var/lib/dpkg/*-old
# `docker load` of a one-layer image, not `docker import --platform`: an older
# engine (20.10) ignores import's platform and would label an arm64 base amd64.
layer_dir=$(mktemp -d /var/tmp/native-sync-image.XXXXXX)
trap 'rm -rf "$rootfs" "$layer_dir"' EXIT
tar -C "$rootfs" -c . >"$layer_dir/layer.tar"
diff_id=$(sha256sum "$layer_dir/layer.tar" | cut -d' ' -f1)
variant=""
[ "$arch" = arm64 ] && variant='"variant": "v8", '
cat >"$layer_dir/config.json" <<JSON
{"architecture": "$arch", ${variant}"os": "linux", "created": "$(date -u +%Y-%m-%dT%H:%M:%SZ)",
 "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": ["bash"]},
 "rootfs": {"type": "layers", "diff_ids": ["sha256:$diff_id"]},
 "history": [{"created_by": "debootstrap --variant=minbase --arch=$arch $DEBIAN_SUITE (scripts/ensure-base.sh)"}]}
JSON
cat >"$layer_dir/manifest.json" <<JSON
[{"Config": "config.json", "RepoTags": ["$BASE_IMAGE"], "Layers": ["layer.tar"]}]
JSON
tar -C "$layer_dir" -c manifest.json config.json layer.tar | docker load >/dev/null
log "imported $BASE_IMAGE ($PLATFORM, $(docker image inspect --format '{{.Size}}' "$BASE_IMAGE") bytes) in $((SECONDS - start)) s"
