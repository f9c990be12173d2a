#!/usr/bin/env bash
# Makes a Docker engine answer (idempotent; `make docker-deps`).
#
# When `docker info` answers (Docker Desktop, a Linux user in the `docker` group,
# a running dockerd) this does nothing else: no package installs, no dockerd.
# Only when no engine answers AND this runs as root (a bare Debian machine, CI)
# does it install Debian's docker.io and start dockerd, detached from the
# caller's pipes. Works with no stdin and CI=true. Knob: DOCKER_WAIT (seconds,
# default 60). The base image is scripts/ensure-base.sh's business.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
DOCKER_WAIT=${DOCKER_WAIT:-60}

log() { echo "ensure-docker: $*" >&2; }
docker_answers() { command -v docker >/dev/null && docker info >/dev/null 2>&1; }

if docker_answers; then
  log "docker engine answers ($(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?'))"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  if command -v docker >/dev/null; then
    log "no Docker engine answers: start Docker Desktop (or the docker service), and"
    log "on Linux make sure you are in the docker group (docker info: $(docker info 2>&1 | tail -n 1))"
  else
    log "no docker command: install Docker Desktop (macOS, Windows) or Docker Engine (Linux)"
  fi
  exit 1
fi

# --- root on a bare machine: the packages, then the daemon ---------------------
if ! command -v dockerd >/dev/null || ! command -v docker >/dev/null; then
  command -v apt-get >/dev/null || { log "no engine, and no apt-get to install one"; exit 1; }
  log "installing docker.io"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends docker.io </dev/null >/dev/null
fi
docker_answers && exit 0  # the package's own service may have started it
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
log "docker engine answers ($(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?'))"
