"""unison built from pinned source (unison/build.sh), and ways to run it in tests.

The builds are cached in build/ (a stamp of the source and the patches), so
only the first session pays for them (a few seconds each on 2 cores).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers import REPO

BUILD = REPO / "unison" / "build.sh"
PREFIXES = {
    "ours": REPO / "build" / "unison",  # the Makefile's `deps` builds the same one
    "stock": REPO / "build" / "unison-stock",
    "2.52.1": REPO / "build" / "unison-2.52.1",
}
BUILD_ARGS = {"ours": [], "stock": ["--stock"], "2.52.1": ["--stock", "--version", "2.52.1"]}
ONESHOT = ["-batch", "-auto", "-log=false", "-ui", "text"]

# The stock binary must fail each patch's test: strict, so that a test that
# passes on stock (it no longer shows the patch's point) fails the suite.
stock_fails = pytest.mark.xfail(strict=True, reason="stock unison lacks the patch")
BOTH = [pytest.param("ours"), pytest.param("stock", marks=stock_fails)]


def unison_bin(kind: str) -> Path:
    """Build (or find, cached) the unison ``kind`` and return its path."""
    if shutil.which("ocamlopt") is None or shutil.which("make") is None:
        pytest.skip("building unison needs ocaml-nox and make (scripts/system-deps.sh installs them)")
    prefix = PREFIXES[kind]
    done = subprocess.run(
        ["bash", str(BUILD), *BUILD_ARGS[kind], str(prefix)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, f"unison/build.sh {kind} failed:\n{done.stderr[-3000:]}"
    return prefix / "bin" / "unison"


def replicas(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    """Two empty roots and an environment whose unison state lives in tmp_path."""
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    env = dict(os.environ, UNISON=str(tmp_path / "unison"), HOME=str(tmp_path))
    env.pop("UNISON_WATCH_INTERVAL", None)
    return a, b, env


def many_files(root: Path, n: int = 2000) -> None:
    """``n`` small files in nested folders and a symlink: an archive of ~150 KB, read by our
    unison in several of the 64 KB chunks of patch 0011 (a handful of files fits in one)."""
    for i in range(n):
        path = root / f"d{i % 7}" / f"e{i % 13}" / f"f{i}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"file {i}\n" * (1 + i % 5))
    (root / "link").symlink_to("d0/e0/f0.txt")


def oneshot(unison: Path, a: Path, b: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(unison), str(a), str(b), *ONESHOT, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode in (0, 1), f"unison exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


class Watch:
    """``unison -repeat watch`` on two roots, stopped at the end."""

    def __init__(self, unison: Path, a: Path, b: Path, env: dict[str, str], *args: str) -> None:
        self.log_path = a.parent / "watch.log"
        self.log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [str(unison), str(a), str(b), *ONESHOT, "-repeat", "watch", "-terse", *args],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-2000:]

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
        self.log.close()
