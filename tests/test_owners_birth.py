"""No file ever appears on the host with another owner than SPEC's, not for a moment (issue 25).

The running engine (real unison with patch 0005, supervisord, fsmonitor) as
root, a host folder owned by 1000 and OWNER_UID=33; :class:`tests.births.Births`
lstat()s every new host entry from its inotify event on, every 0.5 ms,
unison's temp files included.  The roots live in a folder 1000 and 33 can
pass through (not pytest's tmp_path), as ``/host_sync`` is in the image.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.births import Births, Owner, reachable_folder
from tests.helpers import Engine, read, same_trees, unison_temps, wait_for, write

pytestmark = [
    pytest.mark.engine,
    pytest.mark.skipif(os.geteuid() != 0, reason="giving files to other users needs root"),
]

USER: Owner = (1000, 1000)  # the host folder's owner
APP: Owner = (33, 33)  # OWNER_UID:GROUP_ID
THEIRS: Owner = (1234, 1235)
SYNC = 30.0  # seconds a change may take to cross (a loaded machine)
# host files whose owner is not the folder's: a replaced one keeps it (root's made with sudo, say)
KEPT = {"roots.txt": (0, 0), "theirs.txt": THEIRS}
_TEMP = re.compile(r"\.unison\.(.+)\.[0-9a-f]+\.unison\.tmp")


def on_host(rel: str) -> set[Owner]:
    """The owners a host path may ever show: USER's, or the kept owner of a file it replaces
    (which its temp file takes just before the rename)."""
    name = rel.split("/")[-1]
    temp = _TEMP.fullmatch(name)
    if temp is not None:
        original = str(Path(rel).parent / temp.group(1)).removeprefix("./")
        return {USER, KEPT.get(original, USER)}
    return {KEPT.get(rel, USER)}


def owners_now(root: Path) -> dict[str, Owner]:
    found = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            st = os.lstat(os.path.join(folder, name))
            found[os.path.relpath(os.path.join(folder, name), root)] = (st.st_uid, st.st_gid)
    return found


@pytest.fixture
def engine(engine_factory: Callable[..., Engine]) -> Iterator[Engine]:
    """An engine on a host folder of USER's (with a root-owned and a 1234-owned file) and OWNER_UID=33."""
    base = reachable_folder("ns-owners-")
    host, app = base / "host", base / "app"
    write(host / "src" / "index.php", "<?php\n")
    for rel, text in (("roots.txt", "root's\n"), ("theirs.txt", "theirs\n")):
        write(host / rel, text)
    app.mkdir()
    for path in (host, host / "src", host / "src" / "index.php"):
        os.chown(path, *USER)
    os.chown(host / "theirs.txt", *THEIRS)
    made = engine_factory(HOST_VOLUME=str(host), APP_VOLUME=str(app), OWNER_UID="33", GROUP_ID="33")
    yield made
    made.close()
    shutil.rmtree(base)


def arrived(host: Path, app: Path, rel: str) -> bool:
    return read(host / rel) == read(app / rel)


class Churn:
    """An app-side log appended every 100 ms (a dev server's), until stopped."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        n = 0
        while not self.stop.wait(0.1):
            with open(self.path, "a") as log:
                log.write(f"request {n}\n")
            n += 1

    def __enter__(self) -> Churn:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


def round_of_writes(app: Path, r: int) -> list[str]:
    """20 app writes of every kind: new files, a new folder tree, a link, edits of existing files
    (a root-owned and a 1234-owned one on the host among them), appends; returns the paths."""
    paths = []
    for i in range(8):
        paths.append(f"r{r}-{i}.txt")
        write(app / paths[-1], f"round {r} file {i}\n")
    for i in range(6):
        paths.append(f"dir{r}/sub/f{i}.txt")
        write(app / paths[-1], f"{r}/{i}\n")
    os.symlink(f"r{r}-0.txt", app / f"link{r}")
    paths.append(f"link{r}")
    for rel in ("src/index.php", "roots.txt", "theirs.txt", f"r{r}-1.txt", f"r{r}-2.txt"):
        with open(app / rel, "a") as f:
            f.write(f"edit {r}\n")
        paths.append(rel)
    return paths


@pytest.mark.parametrize("churn", [False, True], ids=["idle", "churn"])
def test_a_poller_sees_only_the_right_owner_over_200_app_writes(engine: Engine, churn: bool) -> None:
    host, app = engine.host, engine.app
    engine.start().wait_watching()
    engine.wait_first_watch_cycle()
    written: set[str] = set()
    with Births(host) as births, Churn(app / "churn.log") if churn else contextlib.nullcontext():
        for r in range(10):
            written.update(round_of_writes(app, r))
            last = f"r{r}-2.txt"
            wait_for(functools.partial(arrived, host, app, last), SYNC, f"round {r} on the host")
        wait_for(lambda: same_trees(host, app), SYNC, "the trees alike")
    assert written <= births.seen.keys()
    assert births.wrong(on_host) == {}
    assert not births.overflowed
    assert owners_now(host)["roots.txt"] == (0, 0) and owners_now(host)["theirs.txt"] == THEIRS


def test_a_stop_in_the_middle_of_1000_app_writes_leaves_nothing_of_another_owner(engine: Engine) -> None:
    """issue 25: a docker stop right after the app wrote 200 files in a new folder left the folder and
    ~43 files 0:0 for good (unison's transfer 'Aborted by user request')."""
    host, app = engine.host, engine.app
    engine.start().wait_watching()
    engine.wait_first_watch_cycle()
    count = [0]

    def app_writes() -> None:
        for i in range(1000):
            write(app / f"stopdir/{i // 100}/f{i}.txt", f"{i}\n")
            count[0] = i + 1

    with Births(host) as births:
        writer = threading.Thread(target=app_writes)
        writer.start()
        wait_for(lambda: count[0] >= 300, SYNC, "300 files written")
        assert engine.proc is not None
        engine.proc.send_signal(signal.SIGTERM)
        writer.join()
        assert engine.proc.wait(timeout=30) == 0
        after_stop = owners_now(host)
        engine.start().wait_watching()
        wait_for(lambda: same_trees(host, app), SYNC, "the next start carries the rest")
        wait_for(lambda: not unison_temps(host, app), SYNC, "no temp file left")
    assert {rel: who for rel, who in after_stop.items() if who not in on_host(rel)} == {}
    assert sum(1 for rel in births.seen if rel.startswith("stopdir/") and rel.endswith(".txt")) >= 1000
    assert births.wrong(on_host) == {}
    assert set(owners_now(host / "stopdir").values()) == {USER}
