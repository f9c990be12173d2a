"""Shared test helpers: tree snapshots; the running engine and ``wait_for`` (from harness/)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.config import Config, load
from engine.fs.paths import is_unison_temp
from harness.engine import ENTRYPOINT, REPO, Engine, kill_leftovers, make_engine, wait_for

__all__ = [
    "ENTRYPOINT",
    "REPO",
    "Engine",
    "kill_leftovers",
    "make_engine",
    "read",
    "same_trees",
    "snapshot",
    "unison_temps",
    "wait_for",
    "write",
]


def write(path: Path, text: str) -> None:
    """Write ``text``, making the folders it needs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def read(path: Path) -> str | None:
    """The file's text, or None when it is not there (yet, or any more)."""
    try:
        return path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return None


def snapshot(
    root: Path, skip: Callable[[str], bool] = lambda rel: False, keep_temps: bool = False
) -> dict[str, Any]:
    """Everything unison syncs about a tree: type, exec bits, contents, link targets.

    unison's own temporary files are left out unless ``keep_temps`` (then a
    leftover one makes two trees differ), and so is whatever vanishes while
    the tree is read (a tree that is still changing differs anyway).
    """
    found: dict[str, Any] = {}
    # the suite run with the host on exFAT (NATIVE_SYNC_TEST_HOST_DIR): that host keeps no modes
    modes = 0 if os.environ.get("NATIVE_SYNC_TEST_HOST_DIR") else 0o777
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, root)
            if skip(rel) or (not keep_temps and is_unison_temp(name)):
                continue
            try:
                st = os.lstat(path)
                if stat.S_ISLNK(st.st_mode):
                    found[rel] = ("link", os.readlink(path))
                elif stat.S_ISDIR(st.st_mode):
                    found[rel] = ("dir", st.st_mode & modes)
                else:
                    found[rel] = ("file", st.st_mode & modes, Path(path).read_bytes())
            except FileNotFoundError:
                found[rel] = ("vanished",)
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(folder, d))]
    return found


def not_synced(rel: str) -> bool:
    """The conflict store (engine/unison/conflicts.py): on the host only, by design."""
    return rel == ".native-sync" or rel.startswith(".native-sync/")


def same_trees(a: Path, b: Path, keep_temps: bool = False) -> bool:
    """Byte for byte the same (the conflict store aside); ``keep_temps``: unison's temp files count too."""
    return snapshot(a, not_synced, keep_temps=keep_temps) == snapshot(b, not_synced, keep_temps=keep_temps)


def tree_diff(a: Path, b: Path, keep_temps: bool = False) -> str:
    """What differs between two trees (the conflict store aside): for a timeout's message."""
    sa, sb = snapshot(a, not_synced, keep_temps=keep_temps), snapshot(b, not_synced, keep_temps=keep_temps)
    only_a, only_b = sorted(sa.keys() - sb.keys()), sorted(sb.keys() - sa.keys())
    changed = sorted(k for k in sa.keys() & sb.keys() if sa[k] != sb[k])
    return f"only in {a}: {only_a[:10]}; only in {b}: {only_b[:10]}; different: {changed[:10]}"


def unison_temps(*roots: Path) -> list[Path]:
    """unison's temp files (:func:`engine.fs.paths.is_unison_temp`) anywhere under ``roots``."""
    return [p for root in roots for p in root.rglob(".unison.*") if is_unison_temp(p.name)]


def entrypoint_env(tmp_path: Path, host: Path, app: Path, runtime: Path, **extra: str) -> dict[str, str]:
    """The environment of ``python3 entrypoint.py`` in host mode on ``host`` and ``app``, no watchdog.

    unison's state is ``tmp_path/unison``; ``extra`` adds or overrides variables.
    """
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "HOST_VOLUME": str(host),
        "APP_VOLUME": str(app),
        "SYNC_RUNTIME_DIR": str(runtime),
        "UNISON": str(tmp_path / "unison"),
        "MONIT_ENABLE": "false",
        **extra,
    }


def run_entrypoint(
    command: str, env: dict[str, str], runtime: Path, timeout: float = 20
) -> subprocess.CompletedProcess[str]:
    """One entrypoint command run to its end; whatever it left running in ``runtime`` is killed."""
    try:
        return subprocess.run(
            [sys.executable, str(ENTRYPOINT), command],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=REPO,
        )
    finally:
        kill_leftovers(runtime)  # only if a bad value was wrongly accepted


def user_tree(folder: Path) -> None:
    """A user's folder, owned by 1000 (what `-v ~/src:/host_sync` shares)."""
    (folder / "src").mkdir(parents=True)
    (folder / "src" / "main.py").write_text("print('mine')\n")
    for path in (folder, folder / "src", folder / "src" / "main.py"):
        os.chown(path, 1000, 1000)


def owners_of(folder: Path) -> dict[str, tuple[int, int]]:
    """uid and gid of ``folder`` (as ".") and of everything below it, by relative path."""
    found = {".": (folder.stat().st_uid, folder.stat().st_gid)}
    for path in folder.rglob("*"):
        st = path.lstat()
        found[str(path.relative_to(folder))] = (st.st_uid, st.st_gid)
    return found


def folders_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """A host-mode environment on ``tmp_path``/host, app, unison and run (all made), no watchdog."""
    for name in ("host", "app", "unison", "run"):
        (tmp_path / name).mkdir(exist_ok=True)
    return {
        "HOST_VOLUME": str(tmp_path / "host"),
        "APP_VOLUME": str(tmp_path / "app"),
        "UNISON": str(tmp_path / "unison"),
        "SYNC_RUNTIME_DIR": str(tmp_path / "run"),
        "MONIT_ENABLE": "false",
        **extra,
    }


def folders_config(tmp_path: Path, **extra: str) -> Config:
    """The Config of :func:`folders_env`."""
    return load(folders_env(tmp_path, **extra))
