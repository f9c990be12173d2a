"""engine/fsmonitor/main.py: the rooms wired from the Config and the probed roots, and the process's edge.

:func:`wire` is called directly with a Config and a ``roots.json`` as the
start-up's probe wrote them; what it decides (the case guard, the permission
bits compared, where ``fsmonitor.json`` goes, the owners hook, the verifier's
roots) is checked through what the wired monitor then does on real folders.
:func:`main` runs as unison runs it (``python -m engine.fsmonitor``).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from engine.config import Config, load
from engine.fs import chown
from engine.fs.casefold import SENSITIVE, Folding
from engine.fs.owners import Owners
from engine.fs.paths import PERMS
from engine.fsmonitor.main import Wired, wire
from engine.fsmonitor.protocol import quote, unquote
from engine.state import shared
from tests.helpers import REPO, wait_for

T = 100.0
FOLDS = Folding(case_insensitive=True, normalization_insensitive=True, permissions=True)
NO_MODES = Folding(case_insensitive=False, normalization_insensitive=False, permissions=False)


def config(tmp_path: Path, status_dir: bool = True) -> Config:
    runtime = tmp_path / "rt"
    (runtime / shared.FSMONITOR_DIR if status_dir else runtime).mkdir(parents=True)
    host, app = tmp_path / "host", tmp_path / "app"
    host.mkdir()
    app.mkdir()
    return load({"SYNC_RUNTIME_DIR": str(runtime), "HOST_VOLUME": str(host), "APP_VOLUME": str(app)})


def started(wired: Wired, cfg: Config, app_first: bool = False) -> None:
    """unison's two START scans, as watch-mode unison sends them."""
    roots = [("H", cfg.unison_src), ("A", cfg.unison_dest)]
    for replica, root in reversed(roots) if app_first else roots:
        wired.monitor.command(f"START {replica} {quote(str(root))} ", T)
        wired.monitor.command("DONE", T)


def test_against_a_host_that_folds_names_a_clash_is_kept_from_unison(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    for name in ("README.md", "readme.md"):
        (cfg.unison_dest / name).write_text(name)
    folding = wire(cfg, shared.Roots(host=FOLDS, app=SENSITIVE))
    plain = wire(cfg, shared.Roots(host=SENSITIVE, app=SENSITIVE))
    for wired in (folding, plain):
        started(wired, cfg)
    kept_back = {("A", "readme.md")}
    assert folding.monitor.case.screen(kept_back, True) == set()
    assert plain.monitor.case.screen(kept_back, True) == kept_back
    assert folding.verifier.walker.fold and not plain.verifier.walker.fold


def test_against_a_host_that_keeps_no_modes_a_mode_is_no_difference(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    for root, mode in ((cfg.unison_src, 0o644), (cfg.unison_dest, 0o755)):
        (root / "run.sh").write_text("echo hi\n")
        (root / "run.sh").chmod(mode)
    no_modes = wire(cfg, shared.Roots(host=NO_MODES, app=SENSITIVE))
    modes = wire(cfg, shared.Roots(host=SENSITIVE, app=SENSITIVE))
    for wired in (no_modes, modes):
        started(wired, cfg)
    assert not no_modes.monitor.still_differs.differs_now("H", "run.sh")
    assert modes.monitor.still_differs.differs_now("H", "run.sh")
    assert (no_modes.verifier.walker.perms, modes.verifier.walker.perms) == (0, PERMS)


def test_the_status_file_is_in_the_runtime_folder_and_its_counts_carry_over(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    status = cfg.runtime_dir / shared.FSMONITOR_FILE
    shared.FsmonitorStatus(rescans=3, conflicts=2).save(status)  # the previous fsmonitor's
    wired = wire(cfg, shared.Roots())
    wired.monitor.publish(T)
    written = shared.FsmonitorStatus.load(status)
    assert (written.rescans, written.conflicts, written.pid) == (3, 2, os.getpid())


def test_without_a_status_folder_nothing_is_written(tmp_path: Path) -> None:
    cfg = config(tmp_path, status_dir=False)
    wired = wire(cfg, shared.Roots())
    wired.monitor.publish(T)
    assert os.listdir(cfg.runtime_dir) == []


def test_the_verifier_walks_the_host_first_whichever_unison_names_first(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    wired = wire(cfg, shared.Roots())
    assert wired.verifier.roots is None
    started(wired, cfg, app_first=True)
    wired.monitor.command("WAIT A", T)  # unison's first cycle is over: every folder is watched
    assert wired.verifier.roots == (str(cfg.unison_src), str(cfg.unison_dest))
    assert not wired.verifier.is_alive()  # main starts it


def test_app_files_get_their_owner_only_when_we_may_give_them(tmp_path: Path) -> None:
    wired = wire(config(tmp_path), shared.Roots())
    assert [type(listener) for listener in wired.monitor.listeners] == (
        [Owners] if chown.privileged() else []
    )


def fsmonitor(tmp_path: Path, **env: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "engine.fsmonitor"],
        cwd=REPO,
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), **env},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )


def test_main_says_it_runs_in_the_status_file_before_any_command(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    proc = fsmonitor(tmp_path, SYNC_RUNTIME_DIR=str(cfg.runtime_dir))
    status = cfg.runtime_dir / shared.FSMONITOR_FILE
    try:
        wait_for(
            lambda: status.exists() and shared.FsmonitorStatus.load(status).pid == proc.pid,
            20,
            "fsmonitor.json",
        )
        assert shared.FsmonitorStatus.load(status).unison_pid == os.getpid()  # its parent
        out, _ = proc.communicate(b"", timeout=20)  # unison closes our stdin: the end
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert (proc.returncode, out) == (0, b"")


def test_main_says_a_bad_setting_to_unison_as_one_error_line(tmp_path: Path) -> None:
    proc = fsmonitor(tmp_path, SYNC_RUNTIME_DIR=str(tmp_path / "rt"), SYNC_VERIFY_INTERVAL="often")
    out, _ = proc.communicate(b"VERSION 1\n", timeout=20)
    assert proc.returncode == 2
    (line,) = out.decode().splitlines()  # unison shows an ERROR line to the user; no VERSION answer
    assert line.startswith("ERROR ") and "SYNC_VERIFY_INTERVAL" in unquote(line.removeprefix("ERROR "))
