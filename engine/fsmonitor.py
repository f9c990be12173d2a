"""``unison-fsmonitor`` in Python: the helper unison runs for ``-repeat watch``.

One thread, one ``select`` over unison's commands (stdin) and the inotify
queue.  Changed paths settle for a few milliseconds, then only those that
still differ between the two replicas are reported, for both replicas (so
unison looks at both sides even if one side's event was never seen): unison's
own writes into the other replica compare equal and are dropped, so they cost
no second sync.  After things calm down, every recently touched path is
compared once more and reported again if it still differs: a storm of
creates and deletes on both sides can race unison, and this is what makes it
converge.
A queue overflow, and every ``SYNC_RESCAN_INTERVAL`` seconds, the whole root
is reported instead (a full rescan).  State goes to
``SYNC_RUNTIME_DIR/fsmonitor/fsmonitor.json`` for ``status`` and the watchdog.
"""

from __future__ import annotations

import os
import re
import select
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from engine import config as config_mod
from engine import log as log_mod
from engine import status, unison
from engine.ignore import IgnoreMatcher
from engine.inotify import Watcher, WatchesExhausted
from engine.protocol import Protocol, ProtocolError, quote

SETTLE = 0.005  # quiet time before a batch of events is looked at
MAX_BATCH = 0.5  # a steady stream (a branch switch) is still reported this often
WRITE_HOLD = 1.0  # how long a file still being written may hold a batch back
RECHECK_QUIET = 1.5  # calm after which recently touched paths are compared again
RECHECK_LIMIT = 20_000  # more recent paths than this: a full rescan instead
RECHECK_TRIES = 3  # a path unison leaves different is reported this often, no more

# unison's Path.addToFinalName: "name (conflict #2_on_2026-11-25).ext"
CONFLICT_COPY = re.compile(r" \(conflict( #\d+)?_on_\d{4}-\d{2}-\d{2}(_was_deleted)?\)(\.[^/.]*)?$")

log = structlog.get_logger("fsmonitor")


@dataclass
class Monitor:
    """The protocol's backend: watches, the 'still differs' filter, bookkeeping."""

    watcher: Watcher
    differs: Callable[[str, str], bool]
    rescan_interval: float = 0.0
    status_file: Path | None = None
    protocol: Protocol = field(init=False)
    dirty: set[tuple[str, str]] = field(default_factory=set)
    first_event: float = 0.0
    last_event: float = 0.0
    syncing_since: float | None = None
    sync_paths: int = 0
    pending_since: float | None = None
    next_rescan: float | None = None
    stats: dict[str, Any] = field(default_factory=dict)
    conflict_names: set[str] = field(default_factory=set)
    flush_requested: bool = False
    flush_in_cycle: bool = False
    flush_rescanned: bool = False
    recent: set[tuple[str, str]] = field(default_factory=set)
    recheck_tries: dict[str, int] = field(default_factory=dict)
    last_sync_done: float = 0.0

    def __post_init__(self) -> None:
        self.protocol = Protocol(self)
        previous = status.read_json(self.status_file) if self.status_file else {}
        self.stats = {
            "pid": os.getpid(),
            "unison_pid": os.getppid(),
            "syncs": 0,
            "first_sync_at": None,
            "last_sync_at": previous.get("last_sync_at"),
            "pending_changes": 0,
            "pending_since": None,
            "conflicts": int(previous.get("conflicts", 0)),
            "rescans": int(previous.get("rescans", 0)),
            "watches": 0,
            "flushes": 0,
        }

    # --- Backend -------------------------------------------------------------

    def start(self, replica: str, root: str, path: str) -> None:
        if replica not in self.watcher.roots:
            self.watcher.add_root(replica, root)
        self.watcher.watch(replica, path)
        if self.syncing_since is None:
            self.syncing_since = time.monotonic()
        if self.rescan_interval > 0 and path == "":
            self.next_rescan = time.monotonic() + self.rescan_interval

    def watch_dir(self, replica: str, path: str) -> None:
        self.watcher.watch(replica, path)

    def follow_link(self, replica: str, path: str) -> None:
        self.watcher.watch(replica, path, follow=True)

    def reset(self, replica: str) -> None:
        self.dirty = {k for k in self.dirty if k[0] != replica}

    # --- unison's commands ------------------------------------------------------

    def command(self, line: str, now: float) -> list[str]:
        """Handle one command line; note sync cycles as they start and end."""
        word = line.split(" ", 1)[0]
        if word == "WAIT" and self.syncing_since is not None:
            self._sync_done(now)
        replies = self.protocol.handle(line)
        if word == "CHANGES":
            if self.syncing_since is None:  # the first CHANGES of a cycle
                self.flush_in_cycle = self.flush_in_cycle or self._take_flush()
                self.syncing_since = now
            self.sync_paths += len(replies) - 1
        return replies

    def _sync_done(self, now: float) -> None:
        assert self.syncing_since is not None
        first = self.stats["first_sync_at"] is None
        self.stats["syncs"] += 1
        self.stats["last_sync_at"] = status.now_iso()
        if first:
            self.stats["first_sync_at"] = self.stats["last_sync_at"]
        log.info(
            "sync.cycle",
            first=first,
            paths=self.sync_paths,
            # from unison's question to its next WAIT, which includes its 1 s sleep
            cycle_ms=round((now - self.syncing_since) * 1000, 1),
        )
        self.syncing_since = None
        self.sync_paths = 0
        self.last_sync_done = now
        if self.flush_in_cycle:
            self.flush_in_cycle = False
            self.stats["flushes"] += 1
        self.pending_since = now if self.protocol.pending_count() else None
        self.publish()

    # --- events ---------------------------------------------------------------------

    def events(self, changed: set[tuple[str, str]], overflow: bool, now: float) -> list[str]:
        """Take what the watcher read; an overflow asks for a full rescan."""
        if overflow:
            return self.rescan("overflow", now)
        if changed:
            if not self.dirty:
                self.first_event = now
            self.dirty |= changed
            self.last_event = now
        return []

    def deadline(self, now: float) -> float | None:
        """When :meth:`tick` next has something to do."""
        times = []
        if self.dirty:
            times.append(max(self.last_event + SETTLE, now))
        if self.next_rescan is not None:
            times.append(self.next_rescan)
        if self.recent:
            times.append(max(self._recheck_at(), now))
        return min(times) if times else None

    def _recheck_at(self) -> float:
        return max(self.last_event, self.last_sync_done) + RECHECK_QUIET

    def request_flush(self) -> None:
        """SIGUSR1 (``native-sync flush``): a full rescan, counted when synced."""
        self.flush_requested = True

    def _take_flush(self) -> bool:
        taken = self.flush_requested and self.flush_rescanned
        if taken:
            self.flush_requested = self.flush_rescanned = False
        return taken

    def tick(self, now: float) -> list[str]:
        """Report settled changes and run a due rescan."""
        out: list[str] = []
        if self.flush_requested and not self.flush_rescanned:
            self.flush_rescanned = True
            out += self.rescan("flush", now)
        if self.next_rescan is not None and now >= self.next_rescan:
            out += self.rescan("interval", now)
        if self.dirty and self._settled(now):
            out += self.flush(now)
        calm = not self.dirty and self.syncing_since is None and not self.protocol.pending_count()
        if self.recent and calm and now >= self._recheck_at():
            out += self.recheck(now)
        return out

    def _settled(self, now: float) -> bool:
        if now - self.last_event < SETTLE and now - self.first_event < MAX_BATCH:
            return False
        still_written = any(k in self.watcher.writing for k in self.dirty)
        return not still_written or now - self.first_event >= WRITE_HOLD

    def flush(self, now: float) -> list[str]:
        """Report the dirty paths that still differ from the other replica."""
        dirty, self.dirty = self.dirty, set()
        self.watcher.writing -= dirty
        self.recent |= dirty
        differing = set()
        for replica, rel in dirty:
            self._count_conflict(rel)
            if self._still_differs(replica, rel):
                differing.add(rel)
        return self._report(differing, now)

    def recheck(self, now: float) -> list[str]:
        """Compare recently touched paths again; report those that still differ."""
        recent, self.recent = self.recent, set()
        if len(recent) > RECHECK_LIMIT:
            return self.rescan("recheck", now)
        differing = set()
        for replica, rel in recent:
            if not self._still_differs(replica, rel):
                self.recheck_tries.pop(rel, None)
                continue
            tries = self.recheck_tries.get(rel, 0) + 1
            if tries > RECHECK_TRIES:
                log.warning("recheck.gave_up", path=rel, tries=RECHECK_TRIES)
                continue
            self.recheck_tries[rel] = tries
            differing.add(rel)
        if differing:
            log.info("recheck.still_differs", paths=len(differing))
        return self._report(differing, now)

    def _report(self, paths: set[str], now: float) -> list[str]:
        """Hand ``paths`` to unison for both replicas."""
        if not paths:
            return []
        out: list[str] = []
        for replica in self.watcher.roots:
            out += self.protocol.add_changes(replica, paths)
        if self.pending_since is None:
            self.pending_since = now
        self.publish()
        return out

    def rescan(self, reason: str, now: float) -> list[str]:
        """Report every replica's root: unison rescans everything."""
        self.dirty = set()
        self.stats["rescans"] += 1
        log.info("rescan", reason=reason, replicas=len(self.watcher.roots))
        if self.rescan_interval > 0:
            self.next_rescan = now + self.rescan_interval
        out: list[str] = []
        for replica in self.watcher.roots:
            out += self.protocol.add_changes(replica, [""])
        if self.pending_since is None:
            self.pending_since = now
        self.publish()
        return out

    def _still_differs(self, replica: str, rel: str) -> bool:
        others = [r for r in self.watcher.roots if r != replica]
        if len(others) != 1:
            return True
        mine = os.path.join(self.watcher.roots[replica], rel)
        theirs = os.path.join(self.watcher.roots[others[0]], rel)
        return self.differs(mine, theirs)

    def _count_conflict(self, rel: str) -> None:
        if CONFLICT_COPY.search(rel) and rel not in self.conflict_names:
            self.conflict_names.add(rel)
            self.stats["conflicts"] += 1
            log.warning("conflict", kept=rel)

    # --- status -------------------------------------------------------------------

    def publish(self) -> None:
        self.stats["pending_changes"] = self.protocol.pending_count() + len(self.dirty)
        self.stats["pending_since"] = (
            None if self.pending_since is None else time.time() - (time.monotonic() - self.pending_since)
        )
        self.stats["watches"] = self.watcher.watch_count
        if self.status_file is not None:
            try:
                status.write_json(self.status_file, self.stats)
            except OSError as e:
                log.warning("status.unwritable", path=str(self.status_file), error=str(e))
                self.status_file = None


def serve(monitor: Monitor, stdin: int = 0, stdout: int = 1) -> int:
    """Run until unison closes our stdin. Returns the exit status."""
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGUSR1, lambda signum, frame: monitor.request_flush())
    buffer = b""
    while True:
        now = time.monotonic()
        deadline = monitor.deadline(now)
        timeout = None if deadline is None else max(0.0, deadline - now)
        readable, _, _ = select.select([stdin, monitor.watcher.fileno(), wake_r], [], [], timeout)
        now = time.monotonic()
        out: list[str] = []
        if wake_r in readable:
            os.read(wake_r, 512)
        try:
            if monitor.watcher.fileno() in readable:
                batch = monitor.watcher.read()
                out += monitor.events(batch.changed, batch.overflow, now)
            if stdin in readable:
                chunk = os.read(stdin, 65536)
                if not chunk:
                    return 0
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for raw in lines:
                    out += monitor.command(raw.decode("utf-8", "surrogateescape"), now)
            out += monitor.tick(now)
        except WatchesExhausted as e:
            log.error("watches.exhausted", error=str(e))
            _write(stdout, [f"ERROR {quote(str(e))}"])
            return 1
        except ProtocolError as e:
            log.error("protocol.error", error=str(e))
            _write(stdout, [f"ERROR {quote(str(e))}"])
            return 1
        _write(stdout, out)


def _write(fd: int, lines: list[str]) -> None:
    if not lines:
        return
    data = "".join(line + "\n" for line in lines).encode("utf-8", "surrogateescape")
    while data:
        written = os.write(fd, data)
        data = data[written:]


def main() -> int:
    """Entry point of the ``unison-fsmonitor`` executable."""
    try:
        cfg = config_mod.load()
    except config_mod.ConfigError as e:
        _write(1, [f"ERROR {quote(str(e))}"])
        return 2
    log_mod.setup(cfg.log_format, cfg.tz, process="fsmonitor")
    from engine.compare import differs

    patterns = unison.ignore_patterns(cfg)
    try:
        ignored = IgnoreMatcher(patterns).ignored
    except (ValueError, re.error) as e:
        # unison itself judges its patterns; we only lose the filter (report a bit more)
        log.warning("fsmonitor.ignores_not_understood", error=str(e))
        ignored = IgnoreMatcher([]).ignored
    status_dir = cfg.runtime_dir / status.FSMONITOR_DIR
    monitor = Monitor(
        watcher=Watcher(ignored),
        differs=differs,
        rescan_interval=cfg.rescan_interval,
        status_file=status_dir / "fsmonitor.json" if status_dir.is_dir() else None,
    )
    log.info("fsmonitor.start", unison_pid=os.getppid(), ignores=len(patterns))
    monitor.publish()  # tells status that this unison's fsmonitor runs
    try:
        return serve(monitor)
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
