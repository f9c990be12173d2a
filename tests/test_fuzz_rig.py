"""The fuzzer's rig (tests/fuzz/rig.py): between examples it empties both trees while the sync runs.

Seed 8118 of a long run failed in the rig, not in the engine: emptying raised
IsADirectoryError, and the fuzzer reported the seed as failed.  Whatever the
emptying meets, the next example gets two empty, synced folders.
"""

from __future__ import annotations

import errno
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fuzz.rig import STATS, Rig, converged
from tests.helpers import Engine, read, wait_for

pytestmark = [pytest.mark.engine, pytest.mark.fuzz]


@pytest.fixture
def rig() -> Iterator[Rig]:
    made = Rig()
    try:
        yield made
    finally:
        made.close()


def _synced_folder(engine: Engine) -> None:
    (engine.host / "a").mkdir()
    (engine.host / "a" / "f.txt").write_text("in a")
    wait_for(lambda: read(engine.app / "a" / "f.txt") == "in a", 30, "a/f.txt synced", detail=engine.logs)
    wait_for(lambda: converged(engine), 30, "quiet")


def _empty_and_synced(engine: Engine) -> bool:
    return not list(engine.host.iterdir()) and not list(engine.app.iterdir()) and bool(converged(engine))


def test_a_folder_the_sync_refills_while_the_rig_deletes_it_is_deleted_on_the_next_round(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seed 8118's shape: the first removal of a folder loses to the sync (it put an entry back
    in, so the folder is not empty at its end).  The old rig ignored that error, then unlinked the
    folder as if it were a file: IsADirectoryError.  Now the rig tries again until both are empty."""
    engine = rig.fresh()
    _synced_folder(engine)
    real = shutil.rmtree
    refilled: list[Path] = []

    def loses_once(path: Any, ignore_errors: bool = False, **kw: Any) -> None:
        if not refilled:
            refilled.append(Path(path))
            if not ignore_errors:
                raise OSError(errno.ENOTEMPTY, "Directory not empty", str(path))
            return
        real(path, ignore_errors=ignore_errors, **kw)

    monkeypatch.setattr(shutil, "rmtree", loses_once)  # the rig's too
    assert rig.fresh() is engine  # emptied, not replaced
    assert refilled and refilled[0].name == "a"
    assert _empty_and_synced(engine)


def test_any_os_error_while_emptying_replaces_the_rig_with_a_working_one(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An OSError the rig did not foresee (seed 8118 raised one) costs a new engine, not the seed."""
    first = rig.fresh()
    _synced_folder(first)

    def fails(self: Rig, engine: Engine) -> None:
        raise IsADirectoryError(errno.EISDIR, "Is a directory", str(engine.host / "a"))

    notes = len(STATS.notes)
    monkeypatch.setattr(Rig, "_empty", fails)
    second = rig.fresh()
    assert second is not first and rig.engine is second
    assert STATS.notes[notes:] == [
        f"rig replaced: IsADirectoryError: [Errno 21] Is a directory: '{first.host / 'a'}'"
    ]
    assert _empty_and_synced(second)
    (second.host / "b").write_text("b")
    wait_for(lambda: read(second.app / "b") == "b", 30, "b synced by the new engine", detail=second.logs)
