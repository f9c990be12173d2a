# native-sync: the sync container for docker-sync's native_osx strategy, for
# compose and for `make run` (docs/using-the-image.md).
#
# Builds with a plain `docker build .` anywhere pip reaches PyPI, for the
# platform asked (`--platform linux/arm64`: the same file for Apple Silicon).
# `make image` (scripts/build-image.sh) first downloads the wheels on the host
# into build/wheels/ and the build installs only those, offline (and copies the
# vendored unison release into build/unison-src/: no download); it also passes
# VERSION (pyproject.toml's, or a release's) and REVISION (the commit) for
# `native-sync --version` and the labels (at the end of this file).
ARG BASE_IMAGE=debian:bookworm-slim

# --- stage 1: a virtualenv with the runtime Python packages ---------------------
FROM ${BASE_IMAGE} AS venv
# Debian versions are not pinned: the base image fixes the release, and pins
# would break on every point/security update.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3-venv \
 && rm -rf /var/lib/apt/lists/*
# `build/wheel[s]` matches nothing in a plain checkout (then pip uses PyPI); after
# `make image` it brings the downloaded wheels (then pip stays offline).
COPY requirements.txt build/wheel[s] /tmp/pip/
RUN python3 -m venv /opt/venv \
 && if ls /tmp/pip/*.whl >/dev/null 2>&1; then \
      /opt/venv/bin/pip install --no-cache-dir --no-index --find-links /tmp/pip -r /tmp/pip/requirements.txt; \
    else \
      /opt/venv/bin/pip install --no-cache-dir -r /tmp/pip/requirements.txt; \
    fi \
 && /opt/venv/bin/pip uninstall -y -q pip setuptools

# --- stage 2: unison from pinned upstream source with our patches (unison/) --------
FROM ${BASE_IMAGE} AS unison
# curl and ca-certificates only for the download when no tarball is in the context.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends ocaml-nox make patch curl ca-certificates \
 && rm -rf /var/lib/apt/lists/*
# `build/unison-sr[c]` matches nothing in a plain checkout (then build.sh downloads
# the pinned release from the unison project); after `make image` it brings the
# release tarball (then the build stays offline). Either is checked against the
# sha256 pinned in build.sh.
COPY unison/ build/unison-sr[c] /src/unison/
RUN NATIVE_SYNC_VENDOR=/src/unison bash /src/unison/build.sh /opt/unison
# The drift verifier's helper (engine/fsmonitor/treesig.py); ocaml-nox brings gcc.
COPY helpers/treesig.c /src/helpers/
RUN cc -O2 -Wall -Wextra -Werror -o /opt/unison/bin/native-sync-treesig /src/helpers/treesig.c

# --- stage 3: the image ---------------------------------------------------------
FROM ${BASE_IMAGE}
LABEL org.opencontainers.image.title="native-sync" \
      org.opencontainers.image.description="Two-way file sync container (unison in watch mode) for docker-sync's native_osx strategy and compose"
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 tzdata \
 && rm -rf /var/lib/apt/lists/* /var/log/apt /var/log/dpkg.log \
 && mkdir -p /host_sync /app_sync /unison /run/native-sync \
 && chmod 1777 /unison /run/native-sync \
 # /app_sync 1777: Docker copies this owner and mode into an empty named volume at every
 # mount, so `docker run --user 1000:1000 -v fresh:/app_sync` can write it (issue 18)
 && chmod 1777 /app_sync \
 && ln -s /run/native-sync/supervisord.conf /etc/supervisord.conf
COPY --from=venv /opt/venv /opt/venv
COPY --from=unison /opt/unison/bin/unison /opt/unison/bin/native-sync-treesig /usr/local/bin/
# native-sync, precopy_appsync, supervisorctl (finds the running supervisord with
# no flags), unison-fsmonitor, and the ENTRYPOINT shim.
COPY scripts/image/ /usr/local/bin/
COPY entrypoint.py pyproject.toml /opt/native-sync/
COPY engine /opt/native-sync/engine
COPY monit /opt/native-sync/monit
# Byte-compiled at build time: a read-only container cannot write __pycache__.
RUN python3 -m compileall -q /opt/native-sync

# /usr/local/bin first so that the supervisorctl wrapper wins over the venv's.
ENV PATH=/usr/local/sbin:/usr/local/bin:/opt/venv/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOST_VOLUME=/host_sync \
    APP_VOLUME=/app_sync \
    UNISON=/unison \
    SYNC_RUNTIME_DIR=/run/native-sync \
    NATIVE_SYNC_IMAGE=1
# /unison and /run/native-sync are open to any uid (sticky, like /tmp), so that
# `docker run --user UID:GID` can keep its state there; NATIVE_SYNC_IMAGE makes
# a root that is not a mount (a forgotten -v) a warning (engine/fs/access.py).
# No VOLUME for /unison: `docker-sync clean` removes the container without -v, so
# an anonymous volume leaked on every clean. unison's archives live in the
# container's own layer instead, which docker-sync's stop/start keeps (warm
# restarts); compose and `make run` mount a named volume there, which also
# survives `down`/`up` (docs/using-the-image.md).

# Healthy once the initial sync is done and unison watches; the long start
# period covers a big initial sync, the short interval lets compose start the
# app (depends_on: condition: service_healthy) soon after it. `native-sync
# health` here only tests the marker `run` keeps while healthy (no Python).
HEALTHCHECK --interval=2s --timeout=10s --start-period=10m --retries=3 \
  CMD ["/usr/local/bin/native-sync", "health"]

# The version and where the image came from, last, so that a new version or commit
# rebuilds nothing above (scripts/build-image.sh passes them; scripts/release.sh
# a release's). VERSION goes to /opt/native-sync/VERSION, which `native-sync
# --version` prints (a plain `docker build .` leaves it out: pyproject.toml's then).
ARG VERSION=unknown
RUN if [ "$VERSION" != unknown ]; then echo "$VERSION" > /opt/native-sync/VERSION; fi
ARG REVISION=unknown
ARG SOURCE=https://github.com/native-sync/native-sync
ARG LICENSES=GPL-3.0-or-later
LABEL org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="${LICENSES}"

# `docker run IMAGE` = native-sync run; `docker run IMAGE status` = native-sync
# status; `docker run IMAGE /usr/local/bin/precopy_appsync` (docker-sync) or any
# other program runs as given (scripts/image/docker-entrypoint).
ENTRYPOINT ["/usr/local/bin/docker-entrypoint"]
CMD ["run"]
