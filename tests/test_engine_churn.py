"""End-to-end under churn: a log appended every ~100 ms while host edits are made (issue 11).

Nothing may be lost: every host edit arrives, the log travels meanwhile, and
once the appends stop both trees are identical.
"""

from __future__ import annotations

import threading
from functools import partial
from pathlib import Path

import pytest

from tests.helpers import Engine, same_trees, snapshot, wait_for

pytestmark = pytest.mark.engine

SYNC = 10.0  # seconds an edit may take to show on the other side in these tests


class Appender(threading.Thread):
    """A dev server's log: kept open, one line every ~100 ms, flushed."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.stop = threading.Event()
        self.lines = 0

    def past(self, lines: int) -> bool:
        return self.lines >= lines

    def run(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as log:
            while not self.stop.wait(0.1):
                log.write(f"request {self.lines} handled\n")
                log.flush()
                self.lines += 1


def arrived(path: Path, text: str) -> bool:
    try:
        return path.read_text() == text
    except FileNotFoundError:
        return False


def test_host_edits_arrive_while_a_log_churns_and_the_log_converges(engine: Engine) -> None:
    (engine.host / "src").mkdir()
    (engine.host / "src" / "start.php").write_text("start")
    engine.start().wait_watching()
    appender = Appender(engine.app / "var/log/dev.log")
    appender.start()
    try:
        wait_for(lambda: appender.lines >= 20, SYNC, "the log churning")
        for i in range(12):
            (engine.host / f"src/edit{i}.php").write_text(f"edit {i}")
            wait_for(partial(arrived, engine.app / f"src/edit{i}.php", f"edit {i}"), SYNC, f"host edit {i}")
            wait_for(partial(appender.past, appender.lines + 3), SYNC, "more log lines")
        assert (engine.host / "var/log/dev.log").exists()  # the log does travel meanwhile
    finally:
        appender.stop.set()
        appender.join()
    total = appender.lines
    expected = "".join(f"request {n} handled\n" for n in range(total))
    assert (engine.app / "var/log/dev.log").read_text() == expected
    wait_for(
        lambda: same_trees(engine.host, engine.app),
        SYNC,
        "identical trees after the appends stop",
        detail=lambda: f"{snapshot(engine.host)} != {snapshot(engine.app)}",
    )
    assert (engine.host / "var/log/dev.log").read_text() == expected
