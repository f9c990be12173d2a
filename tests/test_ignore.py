"""engine/config/ignore.py against unison 2.52's own ignore semantics (src/pred.ml, src/ubase/rx.ml).

Every row of :data:`CASES` is checked twice: against our matcher, and against the
real ``unison`` binary (a one-shot sync of a tree holding just that path, with
just that ``-ignore``), so the table cannot drift from what unison does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from engine.config.ignore import IgnoreMatcher, pattern_regex

# (pattern, replica-relative path of a file, does unison ignore it?)
CASES: list[tuple[str, str, bool]] = [
    # Name: the last component, anywhere; a leading wildcard never matches a leading dot
    ("Name *.o", "x.o", True),
    ("Name *.o", "d/e/x.o", True),
    ("Name *.o", ".o", False),
    ("Name *.o", ".x.o", False),
    ("Name *.o", "x.oo", False),
    ("Name *.o", "x.o/inside", True),
    ("Name .git", ".git/config", True),
    ("Name .git", "sub/.git/HEAD", True),
    ("Name .git", "a.git", False),
    ("Name .*", ".hidden", True),
    ("Name .*", "a.hidden", False),
    ("Name *", "x", True),
    # a pattern matching the empty path ignores the root, and so everything
    ("Name *", ".hidden", True),
    ("Path *", ".x", True),
    ("Name {,zzz}", ".a/b", True),
    ("Regex (zzz)?", "x", True),
    ("Name *", "dir/x", True),
    ("Name *~", "file~", True),
    ("Name *~", "~", True),
    ("Name *~", ".file~", False),
    ("Name ?x", "ax", True),
    ("Name ?x", ".x", False),
    ("Name ?x", "d/ax", True),
    ("Name a?c", "abc", True),
    ("Name a?c", "a.c", True),
    ("Name a*b", "a.b", True),
    ("Name a*b", "a/b", False),
    ("Name [.]x", ".x", False),
    ("Name *[.]x", "a.x", True),
    ("Name *[.]x", ".x", False),
    ("Name [ab]x", "bx", True),
    ("Name [ab]x", "cx", False),
    ("Name [!a]x", "bx", True),
    ("Name [!a]x", "ax", False),
    ("Name [^a]x", "ax", False),
    ("Name x[!a]", "x.", True),
    ("Name [a-c]z", "bz", True),
    ("Name [a-c]z", "dz", False),
    ("Name []a]x", "]x", True),
    ("Name [!]a]x", "bx", True),
    ("Name [!]a]x", "]x", False),
    ("Name [a-]x", "-x", True),
    ("Name [\\]]x", "]x", True),
    ("Name a[/]b", "a/b", False),
    ("Name a[!x]b", "a/b", False),
    ("Path a[/]b", "a/b", False),
    ("Name node_modules", "node_modules/x/y.js", True),
    ("Name node_modules", "a/node_modules/b", True),
    ("Name node_modules", "node_modules2", False),
    ("Name README", "readme", False),
    ("Name my file", "d/my file", True),
    ("Name a,b", "a,b", True),
    ("Name a\\*b", "a*b", True),
    ("Name a\\*b", "axb", False),
    ("Name a/b", "x/a/b", True),
    ("Name a/b", "a/b", True),
    ("Name *.txt", "new\nline.txt", True),
    # braces
    ("Name {foo,bar}", "foo", True),
    ("Name {foo,bar}", "x/bar", True),
    ("Name {foo,bar}", "baz", False),
    ("Name *.{js,css}", "a.css", True),
    ("Name *.{js,css}", ".js", False),
    ("Name {a,{b,c}}x", "cx", True),
    ("Name {a,{b,c}}x", "dx", False),
    ("Name \\{a,b}", "{a,b}", True),
    ("Name \\{a,b}", "a", False),
    ("Name {a\\,b,c}", "a,b", True),
    ("Name {a\\,b,c}", "c", True),
    ("Name {a\\},b}", "a}", True),
    # Path: the whole path from the root
    ("Path a/b", "a/b", True),
    ("Path a/b", "a/b/c", True),
    ("Path a/b", "x/a/b", False),
    ("Path a/b", "a/bc", False),
    ("Path a/*", "a/x", True),
    ("Path a/*", "a/.x", False),
    ("Path a/*", "a/x/y", True),
    ("Path a/*", "b/x", False),
    ("Path *", "x", True),
    ("Path */x", "a/x", True),
    ("Path */x", "a/b/x", False),
    ("Path */x", ".a/x", False),
    ("Path a/[bc]/d", "a/c/d", True),
    ("Path a/[bc]/d", "a/e/d", False),
    ("Path .git", ".git/x", True),
    ("Path {a,b}/c", "b/c", True),
    # BelowPath: the path and everything below
    ("BelowPath a", "a", True),
    ("BelowPath a", "a/b/c", True),
    ("BelowPath a", "ab", False),
    ("BelowPath a", "x/a", False),
    ("BelowPath a/*.txt", "a/x.txt/y", True),
    ("BelowPath a/*.txt", "a/.x.txt", False),
    # Regex: the whole path (unison's own regex syntax; '.' matches any byte)
    ("Regex .*\\.log", "x.log", True),
    ("Regex .*\\.log", "d/x.log", True),
    ("Regex .*\\.log", ".log", True),
    ("Regex .*\\.log", "x.logs", False),
    ("Regex a/[^/]*", "a/b", True),
    ("Regex a/[^/]*", "a/b/c", True),
    ("Regex a/[^/]*", "ba/b", False),
    ("Regex (x|y)/z", "y/z", True),
    ("Regex (x|y)/z", "w/z", False),
    ("Regex a.b", "a\nb", True),
    ("Regex x", "x/y", True),
    ("Regex x", "yx", False),
    # bytes, not characters: unison matches UTF-8 encoded names byte by byte
    ("Name ?", "é", False),
    ("Name ??", "é", True),
    ("Name ?.txt", "é.txt", False),
    ("Name *.txt", "日本.txt", True),
]

IDS = [f"{p} | {path!r}" for p, path, _ in CASES]


@pytest.mark.parametrize(("pattern", "path", "ignored"), CASES, ids=IDS)
def test_matcher(pattern: str, path: str, ignored: bool) -> None:
    assert IgnoreMatcher([pattern]).ignored(path) is ignored


def unison_copies(base: Path, pattern: str, path: str) -> bool:
    """Sync a tree holding only ``path`` with ``-ignore pattern``: was it copied?"""
    src, dst, state = base / "src", base / "dst", base / "unison"
    for folder in (src, dst, state):
        folder.mkdir()
    file = src / path
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text("x")
    done = subprocess.run(
        ["unison", str(src), str(dst), "-batch", "-auto", "-log=false", "-ui", "text", "-ignore", pattern],
        env={"PATH": os.environ["PATH"], "HOME": str(base), "UNISON": str(state)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return os.path.lexists(dst / path)


@pytest.mark.skipif(shutil.which("unison") is None, reason="unison is not installed")
@pytest.mark.parametrize(("pattern", "path", "ignored"), CASES, ids=IDS)
def test_table_agrees_with_real_unison(tmp_path: Path, pattern: str, path: str, ignored: bool) -> None:
    assert unison_copies(tmp_path, pattern, path) is not ignored


def test_parents_make_children_ignored() -> None:
    matcher = IgnoreMatcher(["Name build", "Path a/b"])
    assert matcher.ignored("build")
    assert matcher.ignored("x/build/y/z.c")
    assert matcher.ignored("a/b/c/d")
    assert not matcher.ignored("a/bc/d")
    assert not matcher.ignored("x/builder/y")


@pytest.mark.parametrize(("pattern", "path", "ignored"), CASES, ids=IDS)
def test_a_walk_that_skips_ignored_folders_matches_only_the_whole_path(
    pattern: str, path: str, ignored: bool
) -> None:
    """issue 24: ``ignored_below`` (the cold-start copy, its count) agrees with ``ignored`` for
    every path whose parent folder is not ignored."""
    matcher = IgnoreMatcher([pattern])
    parent = path.rpartition("/")[0]
    if not (parent and matcher.ignored(parent)):
        assert matcher.ignored_below(path) is ignored
    assert IgnoreMatcher(["Regex .*"]).ignored_below("a/b")


def test_several_patterns() -> None:
    matcher = IgnoreMatcher(["Name *.o", "BelowPath tmp", "Regex .*\\.bak"])
    assert matcher.ignored("src/x.o")
    assert matcher.ignored("tmp/cache/y")
    assert matcher.ignored("notes.bak")
    assert not matcher.ignored("src/x.c")


def test_no_patterns_ignore_nothing() -> None:
    matcher = IgnoreMatcher([])
    assert not matcher.ignored("anything")
    assert not matcher.ignored(".git/x")


def test_the_root_is_ignored_only_by_patterns_matching_the_empty_path() -> None:
    assert not IgnoreMatcher(["Name *.o", "Path a", "BelowPath b", "Regex c.*"]).ignored("")
    assert IgnoreMatcher(["Regex .*"]).ignored("")


@pytest.mark.parametrize("pattern", ["Nom x", "name x", "x", "Name{a,b}"])
def test_unknown_pattern_kind_raises(pattern: str) -> None:
    with pytest.raises(ValueError):
        pattern_regex(pattern)


@pytest.mark.parametrize("pattern", ["Name {a,b", "Name [ab"])
def test_unclosed_glob_raises(pattern: str) -> None:
    with pytest.raises(ValueError):
        pattern_regex(pattern)
