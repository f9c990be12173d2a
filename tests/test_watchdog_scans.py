"""End-to-end: the watchdog spares a full scan's CPU up to its bound, and still restarts a spin
outside one (issue 24: a warm start's first cycle at 400k files on a loaded machine was judged
as a spin).

The unison stand-in drives the real fsmonitor as watch-mode unison does on its first cycle
(``VERSION``, ``START``/``DONE`` per root: a full scan begins) and keeps two processes
spinning meanwhile, so the tree is busy whatever share of a core it gets; the scan ends when
the test says (``WAIT``), and the stand-in spins on outside it.  Later runs are real unison.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import Engine, wait_for

pytestmark = pytest.mark.engine

SCANNER = r"""
import os, subprocess, sys, time
from urllib.parse import quote

host, app, end_scan = sys.argv[1:4]
monitor = subprocess.Popen(["unison-fsmonitor"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)


def say(line, answers=0):
    monitor.stdin.write((line + "\n").encode())
    monitor.stdin.flush()
    for _ in range(answers):
        monitor.stdout.readline()


say("VERSION 1", 1)
for replica, root in (("h1", host), ("h2", app)):
    say(f"START {replica} {quote(root, safe='/')} ", 1)  # the root: a full scan begins
    say("DONE")
spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])  # a second busy process
while not os.path.exists(end_scan):  # scanning: busy, as unison is on a big tree
    pass
say("WAIT h1")  # the first cycle is over
say("WAIT h2")
while True:  # a spin outside any scan (docker-sync #497)
    pass
"""


def scanner(folder: Path, host: Path, app: Path, end_scan: Path) -> Path:
    """A unison stand-in: its first watch-mode run scans (busy) until ``end_scan`` exists, then
    spins in an ordinary cycle; one-shot runs and later watch-mode runs are real unison."""
    code = folder / "scanner.py"
    code.write_text(SCANNER)
    marker = folder / "scanned"
    script = folder / "unison-scanner"
    script.write_text(
        "#!/bin/sh\n"
        f'case " $* " in *" watch "*) if [ ! -e "{marker}" ]; then touch "{marker}"; '
        f'exec python3 "{code}" "{host}" "{app}" "{end_scan}"; fi ;; esac\n'
        'exec unison "$@"\n'
    )
    script.chmod(0o755)
    return script


def start_scanning(engine: Engine) -> Path:
    """``engine`` started with the stand-in; returns the file that ends its scan."""
    end_scan = engine.base / "end-scan"
    engine.env["UNISON_BIN"] = str(scanner(engine.base, engine.host, engine.app, end_scan))
    engine.start()
    return end_scan


def spared(engine: Engine) -> list[float]:
    return [float(e["cpu"]) for e in engine.events("watchdog.scan")]


def spared_unrestarted(engine: Engine) -> int:
    """How many busy samples of the scan were spared; fails at once if unison was restarted."""
    assert not engine.events("unison.restart"), engine.logs()
    return len(spared(engine))


def test_a_busy_full_scan_is_not_restarted_and_a_spin_after_it_is(
    engine_factory: Callable[..., Engine],
) -> None:
    engine = engine_factory(MONIT_ENABLE="true", MONIT_INTERVAL="1", MONIT_HIGH_CPU_CYCLES="2")
    end_scan = start_scanning(engine)
    # twice the busy samples that restart a spin, all in the scan (the bound is 60 s)
    wait_for(
        lambda: spared_unrestarted(engine) >= 4, 60, "four busy samples of the scan spared", interval=0.5
    )
    assert all(cpu > 50 for cpu in spared(engine)), spared(engine)
    end_scan.touch()
    wait_for(lambda: engine.events("unison.restart"), 30, "a restart of the spin after the scan")
    restart = engine.events("unison.restart")[0]
    assert restart["reason"] == "cpu", engine.logs()
    assert len(restart["samples"]) == 2 and all(float(x) > 50 for x in restart["samples"]), restart


def test_a_full_scan_busy_past_its_bound_is_restarted(engine_factory: Callable[..., Engine]) -> None:
    """The bound is the stall bound (here 3 s) or ten times the last scan's cost, whichever is
    longer (the one-shot of this small tree cost a fraction of a second)."""
    engine = engine_factory(
        MONIT_ENABLE="true", MONIT_INTERVAL="1", MONIT_HIGH_CPU_CYCLES="2", MONIT_STALL_SECONDS="3"
    )
    start_scanning(engine)  # never ends
    wait_for(lambda: engine.events("unison.restart"), 60, "a restart of the scan past its bound")
    restart = engine.events("unison.restart")[0]
    assert restart["reason"] == "cpu", engine.logs()
    assert spared(engine), engine.logs()  # it was a scan, spared at first
