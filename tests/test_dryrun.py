"""engine/unison/dryrun.py: UNISON_ARGS tried by our unison, dry, on empty folders; a refusal is one line.

Real unison (the one on PATH: build/unison/bin first).  The roots' own
folders are never written: the dry run works in a temporary folder of its
own, gone afterwards.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import pytest

from engine.config import Config
from engine.unison import dryrun
from tests.helpers import folders_config, snapshot


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temporary folder the dry run makes its own in (empty again afterwards)."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def refusal(cfg: Config) -> str:
    with pytest.raises(dryrun.BadArgs) as e:
        dryrun.check_args(cfg)
    message = str(e.value)
    assert "\n" not in message
    return message


def test_a_word_unison_does_not_know_is_named(tmp_path: Path, scratch: Path) -> None:
    cfg = folders_config(tmp_path, UNISON_ARGS="-times -bogus -numericids")
    assert refusal(cfg) == (
        "arguments unison accepts: it does not know the option -bogus (unison -help lists them)"
    )
    assert list(scratch.iterdir()) == []


def test_arguments_unison_accepts_pass_and_touch_nothing(tmp_path: Path, scratch: Path) -> None:
    cfg = folders_config(tmp_path, UNISON_ARGS="-times -numericids -ignore 'Name *.o' -maxthreads 2")
    (cfg.unison_src / "a.txt").write_text("host")
    before = snapshot(tmp_path, keep_temps=True)
    dryrun.check_args(cfg)
    assert snapshot(tmp_path, keep_temps=True) == before
    assert list(scratch.iterdir()) == []


def test_a_root_named_in_the_arguments_follows_to_the_empty_folders(tmp_path: Path, scratch: Path) -> None:
    for words in ("-prefer {app}", "-prefer={host}", "-force {host}"):
        roots = {"host": tmp_path / "host", "app": tmp_path / "app"}
        dryrun.check_args(folders_config(tmp_path, UNISON_ARGS=words.format(**roots)))


def test_unisons_error_names_the_real_roots_not_the_stand_ins(tmp_path: Path, scratch: Path) -> None:
    cfg = folders_config(tmp_path, UNISON_ARGS="-prefer /nowhere")
    message = refusal(cfg)
    assert message.startswith("arguments unison accepts: it says Argument to preference 'prefer': /nowhere")
    assert message.endswith(f"one of the current roots: {cfg.unison_src}")
    assert "native-sync-args-" not in message


def test_a_wrong_value_is_said_in_unisons_words(tmp_path: Path, scratch: Path) -> None:
    cfg = folders_config(tmp_path, UNISON_ARGS="-times=maybe")
    assert refusal(cfg).startswith(
        "arguments unison accepts: it exits 2 with unison: wrong argument `maybe'; "
        "option `-times' expects a boolean."
    )


def test_no_arguments_run_nothing(tmp_path: Path, scratch: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def run(*args: object, **kwargs: object) -> None:
        raise AssertionError("unison was run")

    monkeypatch.setattr(subprocess, "run", run)
    dryrun.check_args(folders_config(tmp_path))
    assert list(scratch.iterdir()) == []


def test_a_dry_run_that_cannot_be_made_says_nothing(tmp_path: Path, scratch: Path) -> None:
    """No unison to run: the start reports that itself."""
    dryrun.check_args(folders_config(tmp_path, UNISON_BIN=str(tmp_path / "no-unison"), UNISON_ARGS="-bogus"))
    assert list(scratch.iterdir()) == []


def test_a_run_that_does_not_end_is_cut_off_and_says_nothing(
    tmp_path: Path, scratch: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dryrun, "TIMEOUT", 0.5)
    dryrun.check_args(folders_config(tmp_path, UNISON_ARGS="-repeat 1"))
    assert list(scratch.iterdir()) == []


# --- unison's words, in one line -------------------------------------------------------


@pytest.mark.parametrize(
    ("stderr", "status", "line"),
    [
        (
            "unison: unknown option `-bogus'.\nUsage: unison [options]\n...",
            2,
            "it does not know the option -bogus (unison -help lists them)",
        ),
        ("unison: unknown option '-x=1'.\n", 2, "it does not know the option -x=1 (unison -help lists them)"),
        (
            "Contacting server...\nFatal error: Bad pattern\n  Pathx\n  more\n  and more\n",
            3,
            "it says Bad pattern Pathx more",
        ),
        (
            "Error: The path '/abs' is not a relative path\n",
            3,
            "it says The path '/abs' is not a relative path",
        ),
        ("one\ntwo\n\nthree\n", 2, "it exits 2 with two three"),
        ("", 3, "it exits 3 with "),
    ],
)
def test_a_refusal_is_one_line(stderr: str, status: int, line: str) -> None:
    assert dryrun.refusal(stderr, status) == f"arguments unison accepts: {line}"


def test_a_long_complaint_is_cut_at_300_characters() -> None:
    said = dryrun.refusal("Error: " + "word " * 200, 3)
    assert len(said) == len("arguments unison accepts: it says ") + 300
