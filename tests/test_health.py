"""End-to-end: problems per path, degraded state, health, mount warnings, the watched initial sync."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from engine.supervise.watching import CHECK_EVERY
from engine.unison import transcript
from tests.helpers import Engine, unison_temps, wait_for

pytestmark = pytest.mark.engine


@pytest.fixture(params=["4m"])
def small_app(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Path]:
    """A 4 MB tmpfs to be the app volume (needs root and mount); indirect params change the size."""
    mount = tmp_path / "small-app"
    mount.mkdir()
    size = f"size={request.param}"
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", size, "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def problems_by_path(engine: Engine) -> dict[str, dict[str, str]]:
    return {p["path"]: p for p in engine.status()["problems"]}


def test_a_full_app_volume_is_a_named_problem_and_degraded(
    engine_factory: Callable[..., Engine], small_app: Path
) -> None:
    engine = engine_factory()
    engine.env["APP_VOLUME"] = str(small_app)
    (engine.host / "small.txt").write_text("fits")
    engine.start().wait_watching()
    engine.wait_first_watch_cycle()
    (engine.host / "big.bin").write_bytes(os.urandom(6 * 1024 * 1024))
    found = wait_for(lambda: problems_by_path(engine).get("big.bin"), 30, "big.bin listed as a problem")
    assert found["side"] == "app"
    assert "No space left on device" in found["reason"]
    assert found["since"].endswith("Z")
    status = engine.status()
    assert status["state"] == "degraded"
    # the same read that says degraded names why: that one path, once (never `0 pending` and silent)
    assert [p["path"] for p in status["problems"]] == ["big.bin"], status
    # logged once, as a warning with the path and reason, however often unison retries it
    logged = engine.events("problem", path="big.bin", level="warning")
    assert len(logged) == 1, engine.logs()
    # unison's raw output is in the bounded file; our log has the event, the raw text only at debug
    assert "Failed [big.bin]" not in engine.logs()
    assert "Failed [big.bin]" in (engine.runtime / transcript.FILE).read_text()
    (engine.host / "big.bin").unlink()
    wait_for(
        lambda: "big.bin" not in problems_by_path(engine), 30, "the problem cleared once big.bin is gone"
    )
    assert engine.events("problem.cleared", path="big.bin")
    # the failed transfer's temp file goes by itself (the fsmonitor removes unison's litter)
    wait_for(lambda: not unison_temps(small_app), 30, "the failed transfer's temp file removed")
    wait_for(lambda: engine.status()["state"] == "watching", 30, "watching again")
    (engine.host / "after.txt").write_text("still syncing")
    wait_for(lambda: (small_app / "after.txt").exists(), 20, "sync after the problem cleared")


def test_a_root_that_is_not_a_mount_is_a_warning_in_the_image(engine_factory: Callable[..., Engine]) -> None:
    engine = engine_factory(NATIVE_SYNC_IMAGE="1")
    engine.start()
    status = engine.wait_watching()
    assert status["warnings"] == [
        f"{engine.host} is not a mount: add -v /path/to/project:{engine.host}",
        f"{engine.app} is not a mount: add -v app_sync:{engine.app}",
    ]
    warned = engine.events("mount.missing", level="warning")
    assert any("add -v /path/to/project" in e["warning"] for e in warned), engine.logs()


def test_a_root_unison_cannot_write_fails_health_while_it_lasts(engine: Engine) -> None:
    engine.start().wait_watching()
    wait_for(lambda: engine.cli("health").returncode == 0, 20, "healthy")
    subprocess.run(["mount", "--bind", "-o", "ro", str(engine.app), str(engine.app)], check=False)
    try:
        if not os.statvfs(engine.app).f_flag & os.ST_RDONLY:
            pytest.skip("cannot bind-mount read-only here")
        status = wait_for(lambda: (s := engine.status())["roots_error"] and s, 20, "the root found unusable")
        assert "APP_VOLUME" in status["roots_error"] and "read-only" in status["roots_error"]
        assert status["state"] == "degraded"
        wait_for(lambda: engine.cli("health").returncode == 1, 20, "health failing")
        assert not (engine.runtime / "healthy").exists()
    finally:
        subprocess.run(["umount", str(engine.app)], check=False)
    wait_for(lambda: engine.cli("health").returncode == 0, 20, "healthy again")


def burner_once(folder: Path) -> Path:
    """A unison stand-in whose first one-shot run spins (docker-sync #497); later runs are real.

    Two spinning processes, as in test_selfheal's burner, so the tree stays far above the
    threshold on a busy machine; a restart kills the stand-in's whole process group.
    """
    script = folder / "unison-stuck-once"
    marker = folder / "burned"
    spin = 'python3 -c "while True: pass"'
    script.write_text(
        "#!/bin/sh\n"
        f'if [ ! -e "{marker}" ]; then touch "{marker}"; {spin} & exec {spin}; fi\n'
        'exec unison "$@"\n'
    )
    script.chmod(0o755)
    return script


def test_a_one_shot_unison_stuck_at_high_cpu_during_the_initial_sync_is_restarted(
    engine_factory: Callable[..., Engine],
) -> None:
    engine = engine_factory(MONIT_ENABLE="true", MONIT_INTERVAL="1", MONIT_HIGH_CPU_CYCLES="2")
    engine.env["UNISON_BIN"] = str(burner_once(engine.base))
    (engine.host / "first.txt").write_text("arrives after the restart")
    engine.start()
    engine.wait_watching(timeout=90)
    assert (engine.app / "first.txt").read_text() == "arrives after the restart"
    restarts = [
        e
        for e in engine.events("unison.restarted", reason="cpu")
        if e.get("during") in ("initial_sync.unison", "coldstart.index")
    ]
    assert restarts, engine.logs()
    samples = [float(x) for x in restarts[0]["samples"]]
    assert len(samples) == 2 and all(x > 50 for x in samples), samples


def busy_reader_once(folder: Path, seconds: float) -> Path:
    """A unison stand-in whose first one-shot run burns CPU for ``seconds`` while reading (a big
    tree's scan); later runs are real.  Two readers, so the tree stays above the threshold."""
    script = folder / "unison-busy-once"
    marker = folder / "read"
    data = folder / "scanned.bin"
    data.write_bytes(os.urandom(1 << 16))
    read = (
        f"python3 -c \"import os, time\nfd = os.open('{data}', os.O_RDONLY)\n"
        f"end = time.monotonic() + {seconds}\n"
        'while time.monotonic() < end: os.pread(fd, 4096, 0)"'
    )
    script.write_text(
        "#!/bin/sh\n"
        f'if [ ! -e "{marker}" ]; then touch "{marker}"; {read} & {read}; wait; fi\n'
        'exec unison "$@"\n'
    )
    script.chmod(0o755)
    return script


def test_a_one_shot_that_burns_cpu_while_reading_is_not_restarted(
    engine_factory: Callable[..., Engine],
) -> None:
    """issue 24: the cold start's indexing run at 400k files was killed three times for CPU.
    (A low threshold: on a loaded machine the readers may get less than half a core.)"""
    engine = engine_factory(
        MONIT_ENABLE="true", MONIT_INTERVAL="1", MONIT_HIGH_CPU_CYCLES="2", MONIT_CPU_THRESHOLD="10"
    )
    engine.env["UNISON_BIN"] = str(busy_reader_once(engine.base, seconds=6))
    (engine.host / "first.txt").write_text("arrives after the scan")
    engine.start()
    engine.wait_watching(timeout=90)
    assert (engine.app / "first.txt").read_text() == "arrives after the scan"
    assert (engine.base / "read").exists()  # the busy run happened
    one_shots = [
        e
        for e in engine.events("unison.restarted")
        if e.get("during") in ("initial_sync.unison", "coldstart.index")
    ]
    assert not one_shots, engine.logs()


def health_holds(engine: Engine, expected: int, checks: int) -> None:
    """``health`` exits ``expected`` at every probe through ``checks`` of run's root checks
    (one every CHECK_EVERY s: the probe that made it flip before) and ``checks`` verifier passes."""
    probes: list[int] = []
    passes = engine.logs().count("verify.pass")
    window = CHECK_EVERY * checks
    started = time.monotonic()

    def one_more() -> bool:
        code = engine.cli("health").returncode
        assert code == expected, f"health exited {code} after {len(probes)} probes: {engine.status()}"
        probes.append(code)
        return time.monotonic() - started > window and engine.logs().count("verify.pass") >= passes + checks

    wait_for(one_more, window * 3, f"health {expected} through {checks} checks", 0.2)


@pytest.mark.parametrize("small_app", ["5m"], indirect=True)
def test_a_full_app_volume_fails_health_until_space_is_freed_and_does_not_flap(
    engine_factory: Callable[..., Engine], small_app: Path
) -> None:
    """issue 18: a 5 MB volume and a 10 MB file: `health` flipped every 5-10 s, and passed
    once the verifier gave up on the file (drift.unrepaired)."""
    engine = engine_factory(SYNC_VERIFY_INTERVAL="2")
    engine.env["APP_VOLUME"] = str(small_app)
    (engine.app / "filler.bin").write_bytes(os.urandom(3 << 20))  # the app's own data
    (engine.host / "filler.bin").write_bytes((engine.app / "filler.bin").read_bytes())
    engine.start().wait_watching()
    engine.wait_first_watch_cycle()
    wait_for(lambda: engine.cli("health").returncode == 0, 20, "healthy")
    (engine.host / "big.bin").write_bytes(os.urandom(3 << 20))  # does not fit beside filler.bin
    wait_for(lambda: engine.cli("health").returncode == 1, 30, "health failing", detail=engine.logs)
    health_holds(engine, 1, checks=4)  # through the verifier giving up on big.bin, too
    assert engine.status()["state"] == "degraded"
    (engine.app / "filler.bin").unlink()  # the user frees space
    wait_for(
        lambda: (small_app / "big.bin").exists() and engine.cli("health").returncode == 0,
        90,
        "big.bin synced and healthy again",
        detail=lambda: str(engine.status()),
    )
