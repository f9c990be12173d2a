"""unison's ignore patterns (``Name``, ``Path``, ``BelowPath``, ``Regex``) in Python.

The fsmonitor uses them to neither watch nor report what unison ignores, so a
busy ``.git`` or ``node_modules`` costs no sync.  The globs follow unison's
``ubase/rx.ml``: ``*`` and ``?`` never cross ``/``, braces expand, and a
wildcard at the start of a name does not match a leading dot.
"""

from __future__ import annotations

import re
from collections.abc import Iterable


def glob_regex(glob: str) -> str:
    """The regular expression for one unison glob (braces expanded)."""
    return "(?:" + "|".join(_one_glob(g) for g in _expand_braces(glob)) + ")"


def _one_glob(glob: str) -> str:
    out: list[str] = []
    at_start = True
    i = 0
    while i < len(glob):
        c = glob[i]
        i += 1
        nodot = "(?!\\.)" if at_start else ""
        if c == "*":
            out.append(nodot + "[^/]*")
        elif c == "?":
            out.append(nodot + "[^/]")
        elif c == "[":
            body, i = _bracket(glob, i)
            # a set never matches '/' (rx.ml intersects it with "not /")
            out.append(nodot + "(?!/)" + body)
        else:
            if c == "\\" and i < len(glob):
                c = glob[i]
                i += 1
            out.append(re.escape(c))
        at_start = c == "/"
    return "".join(out)


def _bracket(glob: str, i: int) -> tuple[str, int]:
    """The set that starts at ``glob[i]`` (after its '['), as rx.ml parses it.

    ``^`` or ``!`` negates; a ``]`` right after the opening (or the negation)
    is a member; ``a-z`` is a range, ``a-]`` is 'a' and '-'; a backslash
    makes the next character a member.  Returns the Python set and the index
    after the closing ``]``.
    """
    negate = glob[i : i + 1] in ("^", "!")
    i += negate
    items: list[str] = []
    while True:
        if i >= len(glob):
            raise ValueError(f"unclosed [ in {glob!r}")
        if glob[i] == "]" and items:
            return ("[^" if negate else "[") + "".join(items) + "]", i + 1
        low, i = _set_char(glob, i)
        if glob[i : i + 2] == "-]":
            items.append(re.escape(low) + "\\-")
            i += 1
        elif glob[i : i + 1] == "-":
            high, i = _set_char(glob, i + 1)
            items.append(re.escape(low) + "-" + re.escape(high))
        else:
            items.append(re.escape(low))


def _set_char(glob: str, i: int) -> tuple[str, int]:
    if glob[i : i + 1] == "\\":
        i += 1
    if i >= len(glob):
        raise ValueError(f"unclosed [ in {glob!r}")
    return glob[i], i + 1


def _expand_braces(glob: str) -> list[str]:
    """Every alternative of the first ``{a,b}`` (recursively); ``\\{`` is a plain brace."""
    start = _unescaped(glob, 0, "{")
    if start < 0:
        return [glob]
    depth = 0
    parts: list[str] = []
    last = start + 1
    j = start
    while j < len(glob):
        ch = glob[j]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                parts.append(glob[last:j])
                head, tail = glob[:start], glob[j + 1 :]
                return [x for p in parts for x in _expand_braces(head + p + tail)]
        elif ch == "," and depth == 1:
            parts.append(glob[last:j])
            last = j + 1
        j += 2 if ch == "\\" else 1
    raise ValueError(f"unclosed {{ in {glob!r}")


def _unescaped(glob: str, j: int, wanted: str) -> int:
    while j < len(glob):
        if glob[j] == wanted:
            return j
        j += 2 if glob[j] == "\\" else 1
    return -1


def pattern_regex(pattern: str) -> str:
    """The regular expression a whole path must match for ``pattern``."""
    kind, _, arg = pattern.partition(" ")
    arg = arg.strip()
    if kind == "Name":
        return "(?:.*/)?" + glob_regex(arg)
    if kind == "Path":
        return glob_regex(arg)
    if kind == "BelowPath":
        return glob_regex(arg) + "(?:/.*)?"
    if kind == "Regex":
        return arg
    raise ValueError(f"not a unison ignore pattern: {pattern!r}")


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


class IgnoreMatcher:
    """Answers: does unison ignore this replica-relative path?

    unison matches bytes, not characters (``?`` is one byte of a UTF-8 name),
    so patterns and paths are compared as UTF-8 bytes.
    """

    def __init__(self, patterns: Iterable[str]) -> None:
        regexes = [_bytes(pattern_regex(p)) for p in patterns]
        self._rx = re.compile(b"|".join(b"(?:%s)" % r for r in regexes), re.S) if regexes else None
        # unison tests the root (the empty path) too: 'Name *' or 'Regex .*'
        # matches it, and then the whole replica is ignored.
        self._root = self._rx is not None and self._rx.fullmatch(b"") is not None

    def ignored_below(self, path: str) -> bool:
        """:meth:`ignored` for a ``path`` whose parent folder is known not to be ignored (a walk
        that does not enter ignored folders): only the whole path is matched, not every prefix
        again (issue 24: the cold-start copy and its count test every entry of the tree)."""
        if self._root:
            return True
        if self._rx is None or not path:
            return False
        return self._rx.fullmatch(_bytes(path)) is not None

    def ignored(self, path: str) -> bool:
        """True if ``path`` or one of its parent folders (the root included) is ignored."""
        if self._root:
            return True
        if self._rx is None or not path:
            return False
        raw = _bytes(path)
        end = 0
        while True:
            end = raw.find(b"/", end + 1)
            prefix = raw if end < 0 else raw[:end]
            if self._rx.fullmatch(prefix):
                return True
            if end < 0:
                return False
