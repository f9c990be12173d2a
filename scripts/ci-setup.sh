#!/usr/bin/env bash
# CI's machine set-up, as root, idempotent (also on a fresh Debian machine):
#   - a Docker engine (scripts/ensure-docker.sh) and a compose for the tests:
#     the `docker compose` plugin when it answers, else Debian's docker-compose v1;
#   - arm64 emulation: qemu-user-static, binfmt-support, binfmt_misc mounted
#     (scripts/ensure-foreign-arch.sh), for `make image PLATFORM=linux/arm64`;
#   - python3-pip for the system python3 (the non-root test's wheel download);
#   - docker-registry (the CNCF distribution registry) for the release test's
#     registry on loopback (tests/docker/test_release.py);
#   - the user nsuser (NATIVE_SYNC_TEST_USER), not root, in the docker group:
#     tests/docker/test_nonroot.py runs `make image` and `make run` as that user.
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
TEST_USER=${NATIVE_SYNC_TEST_USER:-nsuser}

log() { echo "ci-setup: $*" >&2; }
[ "$(id -u)" = 0 ] || { log "run as root"; exit 1; }

bash scripts/ensure-docker.sh
if ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null; then
  log "installing docker-compose"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends docker-compose </dev/null >/dev/null
fi

# The non-root test's `make image` downloads the wheels with the system python3's
# pip (the user cannot use root's own Python).
if ! /usr/bin/python3 -m pip --version >/dev/null 2>&1; then
  log "installing python3-pip"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends python3-pip </dev/null >/dev/null
fi

if ! command -v docker-registry >/dev/null; then
  log "installing docker-registry"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends docker-registry </dev/null >/dev/null
  # Only the binary is wanted: the test starts its own on loopback. Where systemd
  # runs, the package's service (on :5000) was just started: stop and disable it.
  if [ -d /run/systemd/system ]; then
    systemctl disable --now docker-registry.service >/dev/null 2>&1 || true
  fi
fi

case "$(dpkg --print-architecture)" in
  amd64) bash scripts/ensure-foreign-arch.sh arm64 ;;
  arm64) bash scripts/ensure-foreign-arch.sh amd64 ;;
esac

getent group docker >/dev/null || groupadd --system docker
if ! id "$TEST_USER" >/dev/null 2>&1; then
  log "creating the user $TEST_USER (group docker)"
  useradd --create-home --shell /bin/bash --groups docker "$TEST_USER"
fi
id -nG "$TEST_USER" | tr ' ' '\n' | grep -qx docker || usermod -aG docker "$TEST_USER"
# dockerd gives its socket to the docker group only if that group existed when it started.
sock=/var/run/docker.sock
if [ -S "$sock" ] && [ "$(stat -c %G "$sock")" != docker ]; then
  chgrp docker "$sock"
  chmod g+rw "$sock"
fi
