#!/usr/bin/env bash
# Makes a Docker engine answer on this machine (idempotent; run as root):
#   1. installs Debian's docker.io, docker-compose (1.29) and debootstrap when missing,
#   2. starts dockerd, detached from the caller's pipes, when `docker info` does not answer,
#   3. builds the base image debian:bookworm-slim with debootstrap when no registry
#      can provide it (this machine reaches Debian's package mirror, not Docker Hub).
# Works with no stdin and CI=true. Knobs: DOCKER_WAIT (seconds, default 60),
# BASE_IMAGE (default debian:bookworm-slim), DEBIAN_SUITE (default bookworm).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
DOCKER_WAIT=${DOCKER_WAIT:-60}
BASE_IMAGE=${BASE_IMAGE:-debian:bookworm-slim}
DEBIAN_SUITE=${DEBIAN_SUITE:-bookworm}

log() { echo "ensure-docker: $*" >&2; }

# --- 1. packages ------------------------------------------------------------
need=()
command -v dockerd >/dev/null || need+=(docker.io)
command -v docker >/dev/null || need+=(docker.io)
command -v docker-compose >/dev/null || need+=(docker-compose)
command -v debootstrap >/dev/null || need+=(debootstrap)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    log "please install: ${need[*]} (as root: apt-get install ${need[*]})"
    exit 1
  fi
  # shellcheck disable=SC2207  # package names never hold spaces
  need=($(printf '%s\n' "${need[@]}" | sort -u))
  log "installing ${need[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" </dev/null >/dev/null
fi

# --- 2. the daemon ------------------------------------------------------------
docker_answers() { docker info >/dev/null 2>&1; }

if ! docker_answers; then
  if [ "$(id -u)" != 0 ]; then
    log "no Docker engine answers and only root can start one"
    exit 1
  fi
  log "starting dockerd (log: /var/log/dockerd.log)"
  # A stale pid file from a dead daemon stops a new one from starting.
  if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
    rm -f /var/run/docker.pid
  fi
  # setsid + all three streams redirected: the daemon outlives this script and
  # holds none of the caller's pipes (a CI runner waiting on them would hang).
  setsid dockerd >/var/log/dockerd.log 2>&1 </dev/null &
  deadline=$((SECONDS + DOCKER_WAIT))
  until docker_answers; do
    if [ $SECONDS -ge $deadline ]; then
      log "dockerd did not answer within ${DOCKER_WAIT}s; last lines of /var/log/dockerd.log:"
      tail -n 20 /var/log/dockerd.log >&2 || true
      exit 1
    fi
    sleep 0.5
  done
fi
log "docker engine answers ($(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?'))"

# --- 3. the base image --------------------------------------------------------
if ! docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  log "no image $BASE_IMAGE: building it with debootstrap ($DEBIAN_SUITE, minbase)"
  rootfs=$(mktemp -d /var/tmp/native-sync-rootfs.XXXXXX)
  trap 'rm -rf "$rootfs"' EXIT
  debootstrap --variant=minbase "$DEBIAN_SUITE" "$rootfs" >/var/log/debootstrap-native-sync.log 2>&1 || {
    log "debootstrap failed; last lines of /var/log/debootstrap-native-sync.log:"
    tail -n 20 /var/log/debootstrap-native-sync.log >&2
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
  tar -C "$rootfs" -c . | docker import \
    --change 'CMD ["bash"]' \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    - "$BASE_IMAGE" >/dev/null
  log "imported $BASE_IMAGE ($(docker image inspect --format '{{.Size}}' "$BASE_IMAGE") bytes)"
fi
