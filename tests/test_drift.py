"""End-to-end: the drift verifier and unison's abandoned temp files (issue 9, cases 7 and 3)."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers import Engine, same_trees, unison_temps, wait_for

pytestmark = pytest.mark.engine

ARRIVAL = 30.0  # the promise: an unsignalled change arrives within 30 s at 10k files
MARGIN = 15.0  # a shared, loaded machine


def test_the_verifier_brings_changes_the_mount_never_signalled(
    engine_factory: Callable[..., Engine], bindfs_host: tuple[Path, Path]
) -> None:
    below, mount = bindfs_host
    engine = engine_factory()  # default settings: SYNC_RESCAN_INTERVAL 300, SYNC_VERIFY_INTERVAL auto
    engine.env["HOST_VOLUME"] = str(mount)
    (below / "same-size.txt").write_text("version 1")
    for i in range(50):
        (below / "tree" / f"d{i % 5}").mkdir(parents=True, exist_ok=True)
        (below / "tree" / f"d{i % 5}" / f"f{i}.txt").write_text(f"file {i}")
    engine.start().wait_watching()
    engine.wait_first_watch_cycle()
    # the baseline pass has run (the verifier then knows every file's stat)
    wait_for(lambda: engine.status()["verifier"]["passes"] >= 1, 30, "the verifier's first pass")
    (below / "same-size.txt").write_text("version 2")  # same size: only the contents tell
    (below / "tree" / "d3" / "new.txt").write_text("new beneath the mount")
    wait_for(
        lambda: (
            (engine.app / "tree" / "d3" / "new.txt").exists()
            and (engine.app / "same-size.txt").read_text() == "version 2"
        ),
        ARRIVAL + MARGIN,
        "the verifier to bring the unsignalled changes",
        0.1,
    )
    status = engine.status()
    assert status["rescans"] == 0  # not the periodic rescan (300 s away)
    verifier = status["verifier"]
    assert verifier["drift_repaired"] >= 2
    assert verifier["paths_checked"] >= 50
    assert verifier["last_pass_at"] is not None and verifier["seconds"] is not None
    assert same_trees(mount, engine.app, keep_temps=True)


def test_verify_interval_0_turns_the_verifier_off(
    engine_factory: Callable[..., Engine], bindfs_host: tuple[Path, Path]
) -> None:
    below, mount = bindfs_host
    (below / "a.txt").write_text("a")
    engine = engine_factory(SYNC_VERIFY_INTERVAL="0")
    engine.env["HOST_VOLUME"] = str(mount)
    engine.start().wait_watching()
    engine.wait_first_watch_cycle()
    # one walk for temp files only, nothing compared
    verifier = wait_for(lambda: (v := engine.status()["verifier"])["passes"] >= 1 and v, 30, "the one walk")
    assert verifier["paths_checked"] == 0 and verifier["pause"] == 0


def big_file(path: Path, megabytes: int) -> None:
    block = os.urandom(1024 * 1024)
    with open(path, "wb") as f:
        for i in range(megabytes):
            f.write(block[:-4] + i.to_bytes(4, "big"))


def test_a_temp_file_left_by_kill_9_mid_transfer_is_removed(engine: Engine) -> None:
    engine.start()
    pid = engine.wait_watching()["unison"]["pid"]
    engine.wait_first_watch_cycle()
    big_file(engine.host / "big.bin", 300)
    temps = wait_for(lambda: unison_temps(engine.app), 30, "unison's temp file for big.bin", 0.002)
    os.kill(pid, signal.SIGSTOP)  # frozen mid-transfer, holding the temp file
    assert all(t.exists() for t in temps), "the transfer finished before it could be interrupted"
    # the source goes too (a build artefact replaced): no later transfer reuses the temp file's name
    (engine.host / "big.bin").unlink()
    os.kill(pid, signal.SIGKILL)
    wait_for(
        lambda: (s := engine.status())["unison"]["pid"] not in (None, pid) and s,
        30,
        "unison restarted",
    )
    wait_for(
        lambda: same_trees(engine.host, engine.app, keep_temps=True),
        90,
        "the same trees and no temp file left",
        0.2,
        detail=lambda: f"temp files: {unison_temps(engine.host, engine.app)}",
    )
    assert not any(t.exists() for t in temps)
    assert engine.status()["verifier"]["litter_removed"] >= 1


@pytest.fixture
def small_app_volume(tmp_path: Path) -> Iterator[Path]:
    """A 4 MB tmpfs to serve as APP_VOLUME (needs root)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "small-app"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], check=True, timeout=20)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False, timeout=20)


def test_a_full_app_volume_leaves_no_temp_file(
    engine_factory: Callable[..., Engine], small_app_volume: Path
) -> None:
    engine = engine_factory()
    engine.env["APP_VOLUME"] = str(small_app_volume)
    (engine.host / "small.txt").write_text("fits")
    engine.start().wait_watching()
    engine.wait_first_watch_cycle()
    big_file(engine.host / "too-big.bin", 6)
    (engine.host / "after.txt").write_text("written after the big one")
    wait_for(lambda: (small_app_volume / "after.txt").exists(), 30, "the next change synced")
    # unison tried (and failed) to copy too-big.bin; the temp file it wrote must go
    wait_for(
        lambda: engine.status()["verifier"]["litter_removed"] >= 1 and not unison_temps(small_app_volume),
        60,
        "the temp file of the failed transfer removed",
        0.2,
        detail=lambda: f"temp files: {unison_temps(small_app_volume)}\n{engine.logs()[-3000:]}",
    )
    assert not (small_app_volume / "too-big.bin").exists()
    assert (small_app_volume / "small.txt").read_text() == "fits"


def test_a_path_given_up_is_handed_to_unison_again_now_and_then() -> None:
    """issue 18: once unrepaired, nothing retried it before the rescan (300 s), so a freed
    volume stayed unsynced (and, with health following it, unhealthy) for minutes."""
    from engine.fsmonitor.drift import UNREPAIRED_PASSES, UNREPAIRED_RETRY_EVERY, Drift
    from engine.fsmonitor.verifier import Pass

    drift = Drift()
    reported = []
    for _ in range(UNREPAIRED_PASSES + 2 * UNREPAIRED_RETRY_EVERY):
        drift.passed(Pass(("/a", "/b"), frozenset({"big.bin"}), (), 1, 0.0, 0.0, 10.0, 0.0))
        reported.append(bool(drift.take(lambda rel: True)))
    assert drift.unrepaired == {"big.bin"}
    assert reported[:UNREPAIRED_PASSES] == [True] * UNREPAIRED_PASSES
    assert sum(reported[UNREPAIRED_PASSES + 1 :]) == 2  # once every UNREPAIRED_RETRY_EVERY passes
