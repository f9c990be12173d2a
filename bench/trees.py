"""Generated trees and the changes applied to them.

A tree of ``n`` small files looks like a source checkout: folders of 100 files
two levels deep (``d003/d07/f0042.txt``), 60-600 bytes each, deterministic for
a given ``n`` so every engine sees the same tree.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PER_DIR = 100
DIRS_PER_DIR = 10


def rel_path(i: int) -> str:
    """The path of file number ``i`` inside a generated tree."""
    leaf, index = divmod(i, PER_DIR)
    top, mid = divmod(leaf, DIRS_PER_DIR)
    return f"d{top:03d}/d{mid:02d}/f{index:04d}.txt"


def content(i: int, salt: str = "") -> bytes:
    line = f"file {i} {salt} lorem ipsum dolor sit amet\n".encode()
    return line * (1 + i % 10)


def generate(root: Path, n: int) -> Path:
    """Write a tree of ``n`` files into ``root`` (created) and return it."""
    root.mkdir(parents=True, exist_ok=True)
    made: set[str] = set()
    for i in range(n):
        rel = rel_path(i)
        parent = rel.rsplit("/", 1)[0]
        if parent not in made:
            (root / parent).mkdir(parents=True, exist_ok=True)
            made.add(parent)
        with open(root / rel, "wb") as f:
            f.write(content(i))
    return root


def copy(src: Path, dest: Path) -> float:
    """``cp -a src/. dest`` (dest may exist); returns its seconds."""
    started = time.monotonic()
    subprocess.run(["cp", "-a", f"{src}/.", str(dest)], check=True)
    return time.monotonic() - started


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def sample(n: int, k: int, seed: int) -> list[str]:
    """``k`` distinct file paths of a tree of ``n`` files (reproducible)."""
    rng = random.Random(seed)
    return [rel_path(i) for i in rng.sample(range(n), min(k, n))]


@dataclass(frozen=True)
class Burst:
    """A branch switch: ``created`` new files and ``deleted`` existing ones."""

    created: tuple[str, ...]
    deleted: tuple[str, ...]
    tag: str

    def apply(self, root: Path) -> None:
        for rel in self.created:
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(burst_content(rel, self.tag))
        for rel in self.deleted:
            (root / rel).unlink()

    def arrived(self, root: Path) -> bool:
        """Does ``root`` show the whole burst (cheap: only the touched paths)?"""
        for rel in self.deleted:
            if os.path.lexists(root / rel):
                return False
        for rel in self.created:
            try:
                if (root / rel).read_bytes() != burst_content(rel, self.tag):
                    return False
            except OSError:
                return False
        return True


def burst_content(rel: str, tag: str) -> bytes:
    return f"burst {tag} {rel}\n".encode() * 4


def make_burst(n: int, tag: str, offset: int = 0, new: int = 500, deleted: int = 500) -> Burst:
    """``new`` files in new folders (``b<tag>/...``) and ``deleted`` files of the tree.

    Bursts with different ``offset`` (below 10) delete disjoint sets of files;
    small trees lose at most a tenth of their files per burst.
    """
    deleted = min(deleted, n // 10)
    step = n // deleted
    created = tuple(f"b{tag}/{rel_path(i)}" for i in range(new))
    gone = tuple(rel_path(i) for i in range(offset % step, n, step))[:deleted]
    return Burst(created=created, deleted=gone, tag=tag)


def walk(root: Path) -> Iterator[tuple[str, int, int]]:
    """(relative path, size, mode) of everything under ``root``."""
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            st = os.lstat(path)
            yield os.path.relpath(path, root), st.st_size, st.st_mode


def identical(a: Path, b: Path, ignore_prefix: str = ".unison") -> bool:
    """Same names, sizes, modes and contents on both sides (unison's temp files ignored)."""

    def listing(root: Path) -> dict[str, tuple[int, int]]:
        return {
            rel: (size, mode)
            for rel, size, mode in walk(root)
            if not os.path.basename(rel).startswith(ignore_prefix)
        }

    left, right = listing(a), listing(b)
    if left != right:
        return False
    for rel in left:
        if not os.path.isdir(a / rel) and (a / rel).read_bytes() != (b / rel).read_bytes():
            return False
    return True
