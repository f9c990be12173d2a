"""bench/metrics.py: a process that ends during a CPU window is not counted again, its whole life.

issue 26: a ``make bench`` measured the engine at 34.6% of a core over a quiet
window; a unison restarted in it was counted through supervisord's children
time with all the CPU of its life (15% in a 20 s window, measured again).
"""

from __future__ import annotations

import subprocess
import sys
import threading

import psutil
import pytest

from bench import metrics
from bench.engines import tree_of
from tests.helpers import wait_for

BURN = 0.5  # CPU seconds the child spends before the window
# A parent that starts a child; the child burns BURN s of CPU, then waits; a line to the
# parent ends the child and the parent reaps it (its children time jumps by BURN).
PARENT = f"""
import subprocess, sys
child = subprocess.Popen([sys.executable, "-c", '''
import sys, time
start = time.process_time()
while time.process_time() - start < {BURN}:
    pass
sys.stdin.read()
'''], stdin=subprocess.PIPE)
sys.stdin.readline()
child.stdin.close()
child.wait()
sys.stdin.read()
"""


def test_a_child_reaped_in_the_window_is_not_counted_again() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdin=subprocess.PIPE)
    assert parent.stdin is not None
    try:
        root = psutil.Process(parent.pid)
        child = wait_for(lambda: root.children(), 30, "the child")[0]
        wait_for(lambda: sum(child.cpu_times()[:2]) >= BURN, 60, "the child's CPU spent")
        first_mark = threading.Event()

        def processes() -> list[psutil.Process]:
            found = tree_of(root)
            first_mark.set()
            return found

        result: dict[str, object] = {}
        window = threading.Thread(target=lambda: result.update(metrics.idle_cpu(processes, 5.0)))
        window.start()
        first_mark.wait(30)
        parent.stdin.write(b"end the child\n")
        parent.stdin.flush()
        wait_for(lambda: not root.children(), 30, "the child reaped")
        window.join(60)
        assert float(str(result["percent_of_core"])) < 100 * BURN / 5.0 / 2  # not its whole life
        assert result["exited"] == 1
    finally:
        parent.kill()
        parent.wait(10)


# A parent named NAME that, on a line, runs a child burning BURN s of CPU to its end and reaps
# it, then says so: the drift verifier's helper, run by the fsmonitor, lives between two marks.
HELPER_PARENT = f"""
import pathlib, subprocess, sys
pathlib.Path("/proc/self/comm").write_text(sys.argv[1])
sys.stdin.readline()
child = subprocess.Popen([sys.executable, "-c", '''
import sys, time
start = time.process_time()
while time.process_time() - start < {BURN}:
    pass
print("burnt", flush=True)
sys.stdin.read()
'''], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
assert child.stdout.readline() == b"burnt\\n"
print("burnt", flush=True)
sys.stdin.readline()
child.stdin.close()
child.wait()
print("reaped", flush=True)
sys.stdin.read()
"""


@pytest.mark.parametrize("name", ["unison-fsmonitor", "supervisord"])
def test_a_helper_seen_running_and_reaped_is_counted_once(name: str) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", HELPER_PARENT, name], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert parent.stdin is not None and parent.stdout is not None
    try:
        root = psutil.Process(parent.pid)
        wait_for(lambda: root.name() == name[:15], 30, "the parent's name")
        before = metrics.cpu_mark(lambda: tree_of(root))
        parent.stdin.write(b"run the helper\n")
        parent.stdin.flush()
        assert parent.stdout.readline() == b"burnt\n"
        during = metrics.cpu_mark(lambda: tree_of(root))  # the helper is seen running, its CPU spent
        parent.stdin.write(b"end it\n")
        parent.stdin.flush()
        assert parent.stdout.readline() == b"reaped\n"
        spent = metrics.cpu_used(before, during) + metrics.cpu_used(
            during, metrics.cpu_mark(lambda: tree_of(root))
        )
        # counted once, through the fsmonitor's children time (not also as its own when seen running);
        # another parent's child is counted as its own while it runs (and what it spent after, lost)
        assert BURN * 0.9 <= spent < BURN * 1.5, spent
    finally:
        parent.kill()
        parent.wait(10)
