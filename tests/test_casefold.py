"""Case and normalization (engine/fs/casefold.py, fsmonitor/caseguard.py) without a folding filesystem.

No Linux filesystem here folds Unicode normalization, so such a root is
simulated (its lookups fold the NFC/NFD forms) or stands in as the guard sees it.
"""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path

import pytest

from engine.fs import casefold
from engine.fsmonitor.caseguard import CaseGuard
from engine.fsmonitor.verifier import Walker
from engine.state import shared
from engine.unison.launch import folding_args

NFC = unicodedata.normalize("NFC", "café.txt")
NFD = unicodedata.normalize("NFD", "café.txt")


def test_the_key_folds_case_and_normalization() -> None:
    assert NFC != NFD
    assert casefold.key(NFC) == casefold.key(NFD) == casefold.key("CAFÉ.TXT")
    assert casefold.key("a.txt") != casefold.key("b.txt")


def test_clashes_and_renames() -> None:
    assert casefold.clashes(["README.md", "readme.md", "x"]) == [("README.md", "readme.md")]
    assert casefold.clashes([NFC, NFD]) == [tuple(sorted((NFC, NFD)))]
    assert casefold.renamed(["Util.js", "a"], ["util.js", "a"]) == {"util.js": "Util.js"}
    assert casefold.renamed(["README.md", "readme.md"], ["Readme.md"]) == {}  # a clash is no rename


def test_the_clash_message_names_both_paths_and_the_reason() -> None:
    text = casefold.clash_message(("docs/README.md", "docs/readme.md"))
    assert "docs/README.md and docs/readme.md differ only in case" in text
    assert "only in Unicode normalization" in casefold.clash_message((NFC, NFD))


def test_the_probe_of_a_case_sensitive_folder_leaves_nothing(tmp_path: Path) -> None:
    (tmp_path / "keep").write_text("x")
    assert casefold.probe(str(tmp_path)) == casefold.Folding(False, False, True)
    assert os.listdir(tmp_path) == ["keep"]


def test_an_unwritable_root_is_unknown(tmp_path: Path) -> None:
    assert casefold.probe(str(tmp_path / "missing")) == casefold.Folding()


def test_the_probe_removes_what_a_probe_killed_at_start_left(tmp_path: Path) -> None:
    """Found by the fuzzer's engine kill (seed 4010 of a long run): the folder synced to the app."""
    left = tmp_path / f"{casefold.PROBE_PREFIX}c6bbc5cd"
    left.mkdir(mode=0o700)
    (left / "a\u00e9").write_bytes(b"")
    mine = tmp_path / f"{casefold.PROBE_PREFIX}notmine"  # not a probe's name: the user's
    mine.mkdir()
    casefold.probe(str(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == [mine.name]


def test_unison_gets_ignorecase_and_perms_from_the_probe() -> None:
    folding = shared.Roots(host=casefold.Folding(True, False, False), app=casefold.SENSITIVE)
    assert folding_args(folding, []) == ["-ignorecase", "true", "-perms", "0"]
    assert folding_args(folding, ["-ignorecase", "false", "-perms=0o777"]) == []
    assert folding_args(shared.Roots(host=casefold.SENSITIVE, app=casefold.SENSITIVE), []) == []
    assert folding_args(shared.Roots(), []) == []  # not probed: as before


def test_roots_json_round_trips(tmp_path: Path) -> None:
    roots = shared.Roots(host=casefold.Folding(True, True, True), app=casefold.SENSITIVE)
    roots.save(tmp_path)
    assert shared.Roots.load(tmp_path) == roots
    assert shared.Roots.load(tmp_path / "nowhere") == shared.Roots()


def test_the_probe_finds_a_normalization_insensitive_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A simulated root that folds normalization only (as APFS does for names, without case folding)."""
    real = os.path.lexists

    def folding_lexists(path: str | os.PathLike[str]) -> bool:
        folder, name = os.path.split(os.fspath(path))
        try:
            names = os.listdir(folder)
        except OSError:
            return real(path)
        return any(unicodedata.normalize("NFC", n) == unicodedata.normalize("NFC", name) for n in names)

    monkeypatch.setattr(os.path, "lexists", folding_lexists)
    assert casefold.probe(str(tmp_path)) == casefold.Folding(False, True, True)
    assert os.listdir(tmp_path) == []


def guard_for(host: Path, app: Path) -> CaseGuard:
    return CaseGuard({"H": str(host), "A": str(app)}, str(host), now=lambda: "2026-01-01T00:00:00.000Z")


def test_an_nfc_nfd_pair_on_the_app_side_is_a_clash_until_one_goes(tmp_path: Path) -> None:
    host, app = tmp_path / "host", tmp_path / "app"
    host.mkdir()
    app.mkdir()
    (host / NFC).write_text("host")
    (app / NFC).write_text("host")
    (app / NFD).write_text("app")
    guard = guard_for(host, app)
    assert guard.screen({("A", NFD)}, may_rename=True) == set()  # never handed to unison
    assert list(guard.clashes) == [tuple(sorted((NFC, NFD)))]
    assert (host / NFC).read_text() == "host" and sorted(os.listdir(app)) == sorted([NFC, NFD])
    (app / NFD).unlink()
    guard.screen({("A", NFD)}, may_rename=True)
    assert guard.clashes == {}
    assert (host / NFC).read_text() == "host" and os.listdir(app) == [NFC]


def test_a_normalization_only_rename_crosses_as_a_rename(tmp_path: Path) -> None:
    host, app = tmp_path / "host", tmp_path / "app"
    host.mkdir()
    app.mkdir()
    (host / NFC).write_text("same")
    (app / NFC).write_text("same")
    os.rename(app / NFC, app / NFD)  # the app respells it
    renames: list[tuple[str, str]] = []
    guard = guard_for(host, app)
    guard.rename = lambda a, b: renames.append((os.path.basename(a), os.path.basename(b)))
    guard.screen({("A", NFD), ("A", NFC)}, may_rename=True)
    assert renames == [(NFC, NFD)]
    assert guard.folders_to_rescan() == {""}


def test_renames_wait_while_unison_syncs(tmp_path: Path) -> None:
    host, app = tmp_path / "host", tmp_path / "app"
    (host / "lib").mkdir(parents=True)
    (app / "lib").mkdir(parents=True)
    (host / "lib/Util.js").write_text("x")
    (app / "lib/util.js").write_text("x")
    guard = guard_for(host, app)
    assert guard.screen({("H", "lib/Util.js")}, may_rename=False) == set()
    assert os.listdir(app / "lib") == ["util.js"]
    guard.screen(guard.deferred(), may_rename=True)
    assert os.listdir(app / "lib") == ["Util.js"]
    assert guard.folders_to_rescan() == {"lib"}


def test_the_verifier_reports_a_clash_not_drift(tmp_path: Path) -> None:
    host, app = tmp_path / "host", tmp_path / "app"
    host.mkdir()
    app.mkdir()
    for root in (host, app):
        (root / "README.md").write_text("same")
    (app / "readme.md").write_text("other")
    walker = Walker(lambda rel: False, fold=True)
    differing, _, _ = walker.walk(str(host), str(app))
    assert differing == set()
    assert walker.clashes == {("README.md", "readme.md")}
    plain = Walker(lambda rel: False)
    assert plain.walk(str(host), str(app))[0] == {"readme.md"}  # a case-sensitive host: as before
