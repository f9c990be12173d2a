"""Our unison patches for what the fuzzer found (issues 24 and 25): crashes and races.

0007: the start after a kill in the middle of an archive commit (one root's
archive unlinked, the new one not yet linked) finishes the commit, as unison's
crash recovery means to, instead of stopping at "inconsistent state" forever.
As in
tests/test_unison_build.py, each test runs against stock unison too, as a
strict xfail.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.helpers import read, write
from tests.unison_runs import BOTH, oneshot, replicas

pytestmark = pytest.mark.engine


# --- patch 0007: crash recovery after an unlinked archive -------------------------


@pytest.mark.parametrize("kind", BOTH)
def test_a_commit_killed_between_unlink_and_link_is_finished_at_the_next_run(
    kind: str, unison_of: dict[str, Path], tmp_path: Path
) -> None:
    """The state postCommitArchiveLocal leaves when killed after its unlink of the first root's
    archive: both new archives written ("tm"), one main archive ("ar") gone."""
    a, b, env = replicas(tmp_path)
    write(a / "f", "synced\n")
    oneshot(unison_of[kind], a, b, env)
    state = Path(env["UNISON"])
    archives = sorted(state.glob("ar*"))
    assert len(archives) == 2, archives
    for archive in archives:
        shutil.copyfile(archive, state / f"tm{archive.name[2:]}")
    archives[0].unlink()

    write(b / "f", "edited on b after the crash\n")
    out = oneshot(unison_of[kind], a, b, env)  # stock: exit 3, "inconsistent state"
    assert "inconsistent state" not in out, out
    # the archives were used: an edit on one side is an update, not a conflict
    assert "1 item transferred, 0 skipped, 0 failed" in out, out
    assert read(a / "f") == "edited on b after the crash\n"
    assert sorted(p.name[:2] for p in state.iterdir() if p.name[:2] in ("ar", "tm")) == ["ar", "ar"]
    assert "Nothing to do" in oneshot(unison_of[kind], a, b, env)
