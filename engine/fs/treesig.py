"""Folder signatures from ``native-sync-treesig`` (helpers/treesig.c): the drift verifier's, a stop's.

The walker (:mod:`engine.fsmonitor.walker`) compares a host folder with
its app copy only when the folder's signature (every entry's name and
stat) changed since the last pass.  Signing stat's every file of the
host's tree, and that is the verifier's whole cost: at 400k files on
tmpfs, 2 cores, quiet, the system calls alone take 0.46 s; the same walk
in Python took 1.04 s of CPU a pass (1.28 s at load 0.5), because every
entry also becomes a ``DirEntry``, a ``stat_result`` and a tuple.  At the
pace the drift bound needs there (a pass every ~115 s, issue 24) that
was 0.9-1.1% of a core for the verifier alone, over the engine's 1%.
The helper signs the folders the last pass walked in one process, in C:
0.5 s, its CPU counted in the pass's (:attr:`Signer.cpu_seconds`).

Without the helper (a source checkout before ``make deps``) or when it
fails, :meth:`Signer.sign` answers None and the walker signs in Python.
A stop signs both trees too (:mod:`engine.unison.stopmark`), so that the
next warm start scans only the folders that changed while it was stopped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from engine.fs.paths import join

HELPER = "native-sync-treesig"

log = structlog.get_logger("native-sync")


@dataclass
class Signer:
    """Runs the helper; ``cpu_seconds``: the CPU its runs took, until :meth:`take_cpu`."""

    helper: str
    cpu_seconds: float = 0.0

    @classmethod
    def found(cls) -> Signer | None:
        """The helper on PATH, if there is one."""
        path = shutil.which(HELPER)
        return None if path is None else cls(path)

    def sign(
        self, root: str, folders: list[str], fresh_ns: int | None = None, timeout: float | None = None
    ) -> dict[str, int | None] | None:
        """Each folder's signature (None: it or an entry could not be read, or, given ``fresh_ns``, an
        entry's mtime or ctime is that or later); None if the helper failed or took over ``timeout`` s."""
        fresh = [] if fresh_ns is None else ["-f", str(fresh_ns)]
        proc = subprocess.Popen(
            [self.helper, *fresh, root], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        timer = None if timeout is None else threading.Timer(timeout, proc.kill)
        if timer is not None:
            timer.start()
        try:  # the helper reads every path before it writes: no deadlock on full pipes
            try:
                proc.stdin.write(b"".join(os.fsencode(f) + b"\0" for f in folders))
                proc.stdin.close()
            except BrokenPipeError:
                pass  # it ended early: its status says why
            out, err = proc.stdout.read(), proc.stderr.read()
        finally:
            if timer is not None:
                timer.cancel()
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            proc.stdout.close()
            proc.stderr.close()
            self.cpu_seconds += usage.ru_utime + usage.ru_stime
        lines = out.decode("ascii", "replace").splitlines()
        if proc.returncode != 0 or len(lines) != len(folders):
            log.warning("treesig.failed", status=proc.returncode, error=err.decode(errors="replace")[-500:])
            return None
        return {f: None if line == "-" else int(line, 16) for f, line in zip(folders, lines, strict=True)}

    def take_cpu(self) -> float:
        """The CPU the helper used since the last call."""
        spent, self.cpu_seconds = self.cpu_seconds, 0.0
        return spent


def folders(root: str, ignored: Callable[[str], bool], deadline: float | None = None) -> list[str] | None:
    """Every folder of ``root`` a walk goes into (not ignored, links not followed), found by listing
    (no stat: 0.2 s at 400k files); ``""`` is ``root``.  None when past ``deadline`` (monotonic)."""
    found, stack = [], [""]
    while stack:
        if deadline is not None and time.monotonic() > deadline:
            return None
        rel = stack.pop()
        found.append(rel)
        try:
            with os.scandir(os.path.join(root, rel) if rel else root) as it:
                for entry in it:
                    child = join(rel, entry.name)
                    if entry.is_dir(follow_symlinks=False) and not ignored(child):
                        stack.append(child)
        except OSError:
            continue
    return found
