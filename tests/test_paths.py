"""engine/fs/paths.py: unison's temp-file names, one definition for every module that needs it."""

from __future__ import annotations

import pytest

from engine.fs.paths import is_unison_temp


@pytest.mark.parametrize(
    "name",
    [
        ".unison.a.txt.0123456789abcdef0123456789abcdef.unison.tmp",  # what unison 2.5x writes
        ".unison.file.txt.0a1b2c3d.unison.tmp",
        ".unison.a.unison.tmp",  # no includeInTempNames string
        ".unison.x1.123.unison.tmp",  # the retry counter after the name
    ],
)
def test_unison_temp_names(name: str) -> None:
    assert is_unison_temp(name)


@pytest.mark.parametrize(
    "name",
    [
        ".unison.tmp",  # no name in it: unison never writes this, a user may
        ".unison..unison.tmp",
        "a.unison.tmp",
        ".unison.a.txt",
        ".unison.a.unison.tmp.bak",
    ],
)
def test_other_names(name: str) -> None:
    assert not is_unison_temp(name)
