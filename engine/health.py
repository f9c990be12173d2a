"""Where health is decided: :func:`healthy`, on the typed status (:mod:`engine.status`).

``native-sync health``'s exit status and the ``healthy`` marker that ``run``
keeps for the image's HEALTHCHECK (:class:`Marker`) both ask
:func:`is_healthy`, so they cannot disagree; ``run`` takes the marker away on
every way out.
"""

from __future__ import annotations

from pathlib import Path

import structlog

from engine.state.shared import HEALTHY_FILE, RunState, State
from engine.status import UNREPAIRED, Status, collect
from engine.unison import reasons

log = structlog.get_logger("native-sync")


def standing_failure(status: Status) -> str | None:
    """What fails ``health`` for as long as it stands, or None: :func:`healthy`'s rule for paths (issue 26).

    - a path that has not synced for a reason that needs the user
      (:func:`engine.unison.reasons.needs_user`: no space, read-only, permission, a
      name the host cannot hold), or a root unison cannot scan (path ``.``).
      The reason sticks to the path until it syncs or is gone, whatever unison
      printed about it since (:mod:`engine.unison.standing`), so health does not follow
      unison's last message (a full volume's next try often ends "modified
      during synchronization") nor the root probe (a full volume passes it each
      time unison has removed its aborted temp file);
    - a path the drift verifier gave up on (``drift_unrepaired``) with no named
      problem to explain it: unsynced, and nobody can say why.

    Any other problem (a reason unison gave that names no cause the user must
    fix; a transient one that outlived its bound) leaves health passing and the
    state ``degraded``: ``status`` and the logs name the path.  Special files
    skipped by rule (``skipped``) are no problem at all.
    """
    named = [p for p in status.problems if p.reason != UNREPAIRED]
    for p in named:
        if p.path == "." or reasons.needs_user(p.reason):
            return f"{p.path} cannot sync until fixed ({p.side} side): {p.reason}"
    explained = {p.path for p in named}
    for path in status.verifier.drift_unrepaired:
        if path not in explained:
            return f"{path}: {UNREPAIRED}"
    return None


def healthy(status: Status) -> bool:
    """Does ``health`` pass: the one rule, on the status's fields.

    SPEC section 5: "``health`` exits 0 only when watching and both roots can
    be scanned and written; a path unsynced for a reason that needs the user
    (no space, read-only, permission, a name the host cannot hold) fails it
    for as long as the path stays unsynced, whatever unison printed about it
    since".  So it passes when

    - the state is ``watching`` (or ``degraded``: watching, with problems that
      need no user), unison is alive and its fsmonitor runs; or the state is
      ``indexing``: a cold start's copy made the volume complete and unison
      builds its archive (issue 13);
    - and both roots can be scanned and written (no ``roots_error``);
    - and no :func:`standing_failure` stands.

    Starting, the initial sync, stopping and failed fail it.
    """
    if status.roots_error is not None or standing_failure(status) is not None:
        return False
    if status.state is State.INDEXING:
        return True
    return (
        status.state in (State.WATCHING, State.DEGRADED)
        and status.unison.pid is not None
        and status.fsmonitor
    )


def is_healthy(runtime_dir: Path, run: RunState | None = None) -> bool:
    """The one health decision: ``native-sync health``'s exit status and the marker's presence."""
    return healthy(collect(runtime_dir, run=run))


class Marker:
    """``SYNC_RUNTIME_DIR/healthy``: present exactly while :func:`is_healthy` holds (``run`` keeps it).

    The image's HEALTHCHECK tests that file instead of starting Python every
    few seconds; each change is logged.
    """

    def __init__(self, runtime_dir: Path) -> None:
        self.runtime_dir = runtime_dir
        self.path = runtime_dir / HEALTHY_FILE
        self.healthy = False

    def update(self, run: RunState) -> None:
        """Decide again, with ``run``'s state as it holds it."""
        now_healthy = is_healthy(self.runtime_dir, run)
        if now_healthy == self.healthy:
            return
        self.healthy = now_healthy
        if now_healthy:
            self.path.touch()
        else:
            self.path.unlink(missing_ok=True)
        log.info("health", healthy=now_healthy)

    def clear(self) -> None:
        """Stopping, failed or crashed: not healthy from now on, whatever the files say.

        Also on the way out of a start whose runtime folder is unusable: an
        error here says so and never hides the exit status.
        """
        try:
            self.path.unlink(missing_ok=True)
        except OSError as e:
            log.warning("health.marker_left", path=str(self.path), error=str(e))
        if self.healthy:
            self.healthy = False
            log.info("health", healthy=False)
