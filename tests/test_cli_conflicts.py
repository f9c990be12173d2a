"""engine/cli/conflicts.py: ``native-sync conflicts`` for a given UNISON folder, and ``keep``.

The record is written as the engine writes it (engine/unison/conflicts.py);
ages are counted from a given time.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine import exits
from engine.cli import conflicts as cli
from engine.config import Config
from engine.unison import conflicts
from tests.helpers import folders_config, read, write

NOW = datetime(2026, 12, 2, 10, 0, 0, tzinfo=UTC)


def recorded(tmp_path: Path) -> tuple[Config, list[conflicts.Entry]]:
    """Two conflicts kept in the store (newest first) and one whose kept copy is gone."""
    cfg = folders_config(tmp_path)
    store = cfg.unison_src / ".native-sync" / "conflicts"
    entries = []
    for path, at, winner, loser in (
        ("src/app.py", "2026-12-02T09:59:48.000Z", "host", "app"),
        ("README.md", "2026-12-02T07:00:00.000Z", "app", "host"),
        ("gone.txt", "2026-12-01T10:00:00.000Z", "host", "app"),
    ):
        kept = store / "t" / path
        write(kept, f"{loser}'s version\n")
        write((cfg.unison_src if winner == "host" else cfg.unison_dest) / path, f"{winner}'s version\n")
        entries.append(conflicts.Entry(path, str(kept), at, winner, loser))
    conflicts.Record(tuple(entries)).save(cfg.unison_dir)
    Path(entries[2].kept).unlink()
    return cfg, entries


def test_the_list_names_the_original_who_won_when_and_where_the_loser_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg, entries = recorded(tmp_path)
    assert cli.list_(cfg, as_json=False, now=NOW) == exits.OK
    assert capsys.readouterr().out.splitlines() == [
        "2 conflicts (newest first):",
        "  src/app.py",
        f"      host won, 12 s ago; app's version is kept in {entries[0].kept}",
        "  README.md",
        f"      app won, 3 h ago; host's version is kept in {entries[1].kept}",
        "",
        "Keep one side's version:  native-sync conflicts keep host|app PATH",
        "  the winner's: drops the kept copy; the loser's: written back, it syncs like any edit",
    ]


def test_a_conflict_at_an_unknown_time_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = folders_config(tmp_path)
    write(tmp_path / "kept", "x")
    conflicts.Record((conflicts.Entry("a", str(tmp_path / "kept"), "", "host", "app"),)).save(cfg.unison_dir)
    cli.list_(cfg, as_json=False, now=NOW)
    assert "      host won, at an unknown time; app's version is kept in" in capsys.readouterr().out
    assert conflicts.Record.load(cfg.unison_dir).entries[0].at == ""


def test_the_list_as_json_keeps_its_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg, entries = recorded(tmp_path)
    assert cli.list_(cfg, as_json=True) == exits.OK
    listed = json.loads(capsys.readouterr().out)
    assert listed == [
        {"path": e.path, "kept": e.kept, "at": e.at, "winner": e.winner, "loser": e.loser}
        for e in entries[:2]
    ]


def test_no_conflicts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = folders_config(tmp_path)
    assert cli.list_(cfg, as_json=False) == exits.OK
    assert capsys.readouterr().out == "No conflicts: nothing to resolve.\n"
    assert cli.list_(cfg, as_json=True) == exits.OK
    assert json.loads(capsys.readouterr().out) == []


def test_keeping_the_losers_version_writes_it_back_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg, entries = recorded(tmp_path)
    assert cli.keep(cfg, "app", "src/app.py") == exits.OK
    assert capsys.readouterr().out == (
        f"native-sync: restored the app version of src/app.py from {entries[0].kept}; "
        "it syncs like any edit\n"
    )
    assert read(cfg.unison_dest / "src" / "app.py") == "app's version\n"
    assert not Path(entries[0].kept).exists()


def test_keeping_the_winners_version_drops_the_kept_copy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg, entries = recorded(tmp_path)
    assert cli.keep(cfg, "app", "README.md") == exits.OK
    assert capsys.readouterr().out == (
        f"native-sync: kept the app version of README.md (it already stands); removed {entries[1].kept}\n"
    )
    assert read(cfg.unison_dest / "README.md") == "app's version\n"


@pytest.mark.parametrize("path", ["nope.txt", "gone.txt"])
def test_keep_of_a_path_not_listed_says_where_the_list_is(
    tmp_path: Path, path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg, _ = recorded(tmp_path)
    assert cli.keep(cfg, "host", path) == exits.FAILED
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        f"native-sync: no conflict of {path!r} is listed; `native-sync conflicts` lists them "
        "(give the original path, as listed)\n"
    )


def test_keep_that_cannot_write_says_why(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg, entries = recorded(tmp_path)
    (cfg.unison_dest / "src").write_text("a file where the folder was")
    assert cli.keep(cfg, "app", "src/app.py") == exits.FAILED
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("native-sync: could not keep the app version of src/app.py: ")
    assert Path(entries[0].kept).exists()  # nothing lost
