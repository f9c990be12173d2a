"""Owners in the fuzzer: a host folder owned by a user, an app that runs as another.

When the fuzzer runs as root, the rig's host folder belongs to HOST_OWNER and
the engine gets ``OWNER_UID``/``GROUP_ID`` = APP_OWNER (as a Linux user with
``sync_userid: 33`` has it).  Each side's writes are given that side's owner at
once (the fuzzer writes as root, then ``lchown``s what it created: writing as
the user would fail in the folders that the sync leaves root's for a few
milliseconds, which the owners work removes).  At every quiescent point
:func:`wrong_owners` must find nothing on either side, the conflict store
included (it belongs to the host folder's owner).  As any other user the
fuzzer cannot give owners and checks none.
"""

from __future__ import annotations

import os
from pathlib import Path

HOST_OWNER = (1000, 1000)
APP_OWNER = (33, 33)


def enabled() -> bool:
    return os.geteuid() == 0


def engine_env() -> dict[str, str]:
    """The engine's environment for owners (none when the fuzzer cannot give them)."""
    if not enabled():
        return {}
    return {"OWNER_UID": str(APP_OWNER[0]), "GROUP_ID": str(APP_OWNER[1])}


def give(path: Path, owner: tuple[int, int]) -> None:
    """``path`` (not a link's target) to ``owner``, when the fuzzer can give owners."""
    if enabled():
        os.lchown(path, *owner)


def wrong_owners(root: Path, owner: tuple[int, int]) -> list[str]:
    """Every path under ``root`` (itself included) that ``owner`` does not own, with its owner."""
    if not enabled():
        return []
    wrong = []
    for folder, dirs, files in os.walk(root):
        for name in ["", *dirs, *files]:
            path = os.path.join(folder, name) if name else folder
            if name == "" and folder != str(root):
                continue  # a folder is checked as its parent's entry
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                continue
            if (st.st_uid, st.st_gid) != owner:
                wrong.append(f"{os.path.relpath(path, root)} is {st.st_uid}:{st.st_gid}")
    return wrong
