"""engine/startup/probe.py: each root probed on tmp_path, the result logged and saved as ``roots.json``.

A root that folds names is simulated as tests/test_casefold.py does (a
lookup that folds case and normalization under that root), so no mount is
needed.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from engine.config import Config
from engine.fs import casefold
from engine.startup import probe
from engine.state import shared
from tests.helpers import folders_config

FOLDS = casefold.Folding(True, True, True)


def folding_under(monkeypatch: pytest.MonkeyPatch, *roots: Path) -> None:
    """Names under ``roots`` are looked up as a case- and normalization-insensitive folder would."""
    real = os.path.lexists

    def lexists(path: str | os.PathLike[str]) -> bool:
        folder, name = os.path.split(os.fspath(path))
        if not any(folder.startswith(str(root) + os.sep) for root in roots):
            return real(path)
        return any(casefold.key(n) == casefold.key(name) for n in os.listdir(folder))

    monkeypatch.setattr(os.path, "lexists", lexists)


def probed(cfg: Config) -> tuple[shared.Roots, list[str]]:
    with capture_logs() as logs:
        roots = probe.probe_roots(cfg)
    assert shared.Roots.load(cfg.runtime_dir) == roots  # saved for unison's arguments and status
    assert os.listdir(cfg.unison_src) == os.listdir(cfg.unison_dest) == []  # the probe leaves nothing
    return roots, [e["event"] for e in logs]


def test_two_plain_roots_hold_every_name_apart(tmp_path: Path) -> None:
    cfg = folders_config(tmp_path)
    with capture_logs() as logs:
        roots = probe.probe_roots(cfg)
    assert roots == shared.Roots(host=casefold.SENSITIVE, app=casefold.SENSITIVE)
    assert logs == [
        {
            "event": "roots.probed",
            "host": {"case_insensitive": False, "normalization_insensitive": False, "permissions": True},
            "app": {"case_insensitive": False, "normalization_insensitive": False, "permissions": True},
            "log_level": "info",
        }
    ]
    assert shared.Roots.load(cfg.runtime_dir) == roots


def test_a_host_that_folds_names_is_said_with_what_it_means(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = folders_config(tmp_path)
    folding_under(monkeypatch, cfg.unison_src)
    roots, events = probed(cfg)
    assert roots == shared.Roots(host=FOLDS, app=casefold.SENSITIVE)
    assert roots.host_insensitive
    assert events == ["roots.probed", "roots.host_insensitive"]


def test_both_roots_folding_is_nothing_to_say(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = folders_config(tmp_path)
    folding_under(monkeypatch, cfg.unison_src, cfg.unison_dest)
    roots, events = probed(cfg)
    assert roots == shared.Roots(host=FOLDS, app=FOLDS)
    assert events == ["roots.probed"]


def test_a_root_that_cannot_be_probed_is_unknown(tmp_path: Path) -> None:
    cfg = folders_config(tmp_path)
    cfg.unison_src.rmdir()
    with capture_logs() as logs:
        roots = probe.probe_roots(cfg)
    assert roots == shared.Roots(host=casefold.UNPROBED, app=casefold.SENSITIVE)
    assert not roots.host_insensitive  # unknown is treated as sensitive
    assert [e["event"] for e in logs] == ["roots.probe_failed", "roots.probed"]
    assert shared.Roots.load(cfg.runtime_dir) == roots


def test_a_warm_start_of_the_same_folders_takes_the_last_answer_and_leaves_the_roots_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 24: a probe makes and removes a folder in each root, a new stamp on the root folder that
    unison's first cycle writes into both archives; with an archive in UNISON and the same two
    folders, the last probe's answer stands (tests/test_warm_start.py sees the archives unwritten)."""
    cfg = folders_config(tmp_path)
    asked: list[str] = []
    real = casefold.probe

    def probe_of(root: str) -> casefold.Folding:
        asked.append(root)
        return real(root)

    monkeypatch.setattr(casefold, "probe", probe_of)
    first, _ = probed(cfg)  # a cold start (no archive): probed, and the answer kept
    assert asked == [str(cfg.unison_src), str(cfg.unison_dest)]
    (cfg.unison_dir / "ar0123").write_bytes(b"")  # unison synced once: the next start is warm
    assert probed(cfg)[0] == first
    assert len(asked) == 2  # neither root probed again
    os.rename(cfg.unison_dest, tmp_path / "old-app")  # another folder at APP_VOLUME's path: asked again
    os.mkdir(cfg.unison_dest)
    assert probed(cfg)[0] == first
    assert asked[2:] == [str(cfg.unison_src), str(cfg.unison_dest)]
