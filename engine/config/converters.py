"""The converters :mod:`engine.config` builds its Config from (supervisor's ``datatypes.py``).

Each takes the text of one variable and returns its value, or raises
``ValueError`` whose message says what would be accepted.
"""

from __future__ import annotations

import os
import re
import shlex

from engine.config.ignore import pattern_regex

PREFER_WORDS = ("host", "app", "newer")
IGNORE_KINDS = ("Name", "Path", "BelowPath", "Regex")


def boolean(value: str) -> bool:
    """``true/false``, ``yes/no``, ``on/off``, ``1/0`` in any case."""
    word = str(value).strip().lower()
    if word in ("true", "yes", "on", "1"):
        return True
    if word in ("false", "no", "off", "0"):
        return False
    raise ValueError("true or false")


def non_negative_number(value: str) -> float:
    """A number of seconds, 0 or more."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError("a number, 0 or more") from None
    if not number >= 0 or number == float("inf"):
        raise ValueError("a number, 0 or more")
    return number


def verify_interval(value: str) -> float | None:
    """``auto`` (None: paced by the verifier's own cost) or seconds between passes (0: off)."""
    if str(value).strip().lower() == "auto":
        return None
    try:
        return non_negative_number(value)
    except ValueError:
        raise ValueError("auto, or a number of seconds, 0 or more (0: off)") from None


def watch_interval(value: str) -> float:
    """``UNISON_WATCH_INTERVAL``: seconds, 0 to 5 (unison's own default is 1)."""
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError("a number of seconds from 0 to 5") from None
    if not 0 <= seconds <= 5:  # also refuses nan
        raise ValueError("a number of seconds from 0 to 5")
    return seconds


def archive_journal(value: str) -> float | None:
    """``UNISON_ARCHIVE_JOURNAL``: ``off`` (None: archives rewritten after every sync) or seconds."""
    if str(value).strip().lower() == "off":
        return None
    try:
        return non_negative_number(value)
    except ValueError:
        raise ValueError(
            "off, or a number of seconds, 0 or more (0: only at a full scan, a size, the stop)"
        ) from None


def positive_number(value: str) -> float:
    """A number greater than 0."""
    try:
        number = non_negative_number(value)
    except ValueError:
        number = 0.0
    if number == 0:
        raise ValueError("a number greater than 0")
    return number


def positive_int(value: str) -> int:
    """A whole number, 1 or more."""
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ValueError("a whole number, 1 or more") from None
    if number < 1:
        raise ValueError("a whole number, 1 or more")
    return number


def numeric_id(value: str) -> int:
    """A numeric uid or gid (no names: they would need a lookup)."""
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ValueError("a numeric id, 0 to 2147483647") from None
    if not 0 <= number <= 2**31 - 1:
        raise ValueError("a numeric id, 0 to 2147483647")
    return number


def log_format(value: str) -> str:
    """``console`` or ``json``."""
    word = value.strip().lower()
    if word not in ("console", "json"):
        raise ValueError("console or json")
    return word


def log_level(value: str) -> str:
    """``debug``, ``info`` or ``warning``."""
    word = value.strip().lower()
    if word not in ("debug", "info", "warning"):
        raise ValueError("debug, info or warning")
    return word


def words(value: str) -> tuple[str, ...]:
    """Split as a POSIX shell would (quotes honoured, nothing evaluated)."""
    try:
        return tuple(shlex.split(value))
    except ValueError as e:
        raise ValueError(f"words a shell could split ({e})") from None


def excludes(value: str) -> tuple[str, ...]:
    """Unison ignore patterns, one per line or as ``-ignore=...`` words."""
    patterns: list[str] = []
    for line in value.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("-ignore"):
            tokens = words(line)
            patterns.extend(_ignores_from_words(tokens))
        else:
            patterns.append(ignore_pattern(line))
    return tuple(patterns)


def _ignores_from_words(tokens: tuple[str, ...]) -> list[str]:
    patterns: list[str] = []
    it = iter(tokens)
    for token in it:
        if token.startswith("-ignore="):
            patterns.append(ignore_pattern(token.split("=", 1)[1]))
        elif token == "-ignore":
            patterns.append(ignore_pattern(next(it, "")))
        else:
            raise ValueError("ignore patterns like 'Name x', one per line, or -ignore='Name x' words")
    return patterns


def ignore_pattern(pattern: str) -> str:
    """One unison ignore pattern (``Name x``, ``Path a/b``, ...), checked as unison would."""
    kind, _, rest = pattern.partition(" ")
    if kind not in IGNORE_KINDS or not rest.strip():
        raise ValueError("ignore patterns like 'Name x', 'Path a/b', 'BelowPath c' or 'Regex r'")
    pattern = f"{kind} {rest.strip()}"
    # what unison itself would stop on, caught before anything is touched
    if kind in ("Path", "BelowPath") and rest.strip().startswith("/"):
        raise ValueError(f"a relative path after {kind} (unison refuses {pattern!r})")
    try:
        re.compile(pattern_regex(pattern))
    except (ValueError, re.error) as e:
        raise ValueError(f"well-formed ignore patterns ({pattern!r}: {e})") from None
    return pattern


def runtime_folder(value: str) -> str:
    """A folder whose ``supervisor.sock`` fits a unix socket address (107 bytes)."""
    if len(os.fsencode(os.path.join(value, "supervisor.sock"))) > 107:
        raise ValueError("a folder path of at most 91 bytes (it holds a unix socket)")
    return value


def prefer(value: str) -> str:
    """``host``, ``app``, ``newer`` or an absolute root path (docker-sync's aliases too)."""
    word = value.strip()
    aliases = {"default": "host", "src": "host", "dest": "app"}
    word = aliases.get(word, word)
    if word in PREFER_WORDS or word.startswith("/"):
        return word
    raise ValueError("host, app, newer or an absolute root path")
