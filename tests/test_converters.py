"""engine/config/converters.py: each converter's accepted values, and the words it refuses with.

A refusal's message is what the one line of a bad setting says after
"expected" (engine/config ConfigError), so it must name what is accepted.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from engine.config import converters as c

Converter = Callable[[str], object]

ACCEPTED: list[tuple[Converter, str, object]] = [
    *((c.boolean, word, True) for word in ("true", "YES", " on ", "1")),
    *((c.boolean, word, False) for word in ("false", "No", "OFF", "0")),
    (c.non_negative_number, "0", 0.0),
    (c.non_negative_number, "2.5", 2.5),
    (c.verify_interval, "auto", None),
    (c.verify_interval, " AUTO ", None),
    (c.verify_interval, "0", 0.0),
    (c.verify_interval, "30", 30.0),
    (c.watch_interval, "0", 0.0),
    (c.watch_interval, "0.02", 0.02),
    (c.watch_interval, "5", 5.0),
    (c.archive_journal, "off", None),
    (c.archive_journal, "Off", None),
    (c.archive_journal, "0", 0.0),
    (c.archive_journal, "30", 30.0),
    (c.positive_number, "0.5", 0.5),
    (c.positive_int, " 3 ", 3),
    (c.numeric_id, "0", 0),
    (c.numeric_id, "2147483647", 2**31 - 1),
    (c.log_format, " JSON ", "json"),
    (c.log_format, "console", "console"),
    (c.log_level, "Debug", "debug"),
    (c.log_level, "warning", "warning"),
    (c.words, '-a \'b c\' "d\\"e"', ("-a", "b c", 'd"e')),
    (c.words, "$(rm -rf /) `x`", ("$(rm", "-rf", "/)", "`x`")),
    (c.words, "", ()),
    (c.excludes, "Name a\n\n  Path b/c  \n", ("Name a", "Path b/c")),
    (c.excludes, "-ignore='Name x' -ignore 'BelowPath y'", ("Name x", "BelowPath y")),
    (c.ignore_pattern, "Regex  .*\\.tmp ", "Regex .*\\.tmp"),
    (c.runtime_folder, "/" + "r" * 90, "/" + "r" * 90),
    (c.prefer, "host", "host"),
    (c.prefer, " newer ", "newer"),
    (c.prefer, "default", "host"),
    (c.prefer, "src", "host"),
    (c.prefer, "dest", "app"),
    (c.prefer, "/host_sync", "/host_sync"),
]


@pytest.mark.parametrize(("convert", "text", "value"), ACCEPTED)
def test_an_accepted_value_converts(convert: Converter, text: str, value: object) -> None:
    assert convert(text) == value


REFUSED: list[tuple[Converter, str, str]] = [
    (c.boolean, "maybe", "true or false"),
    (c.boolean, "", "true or false"),
    *((c.non_negative_number, v, "a number, 0 or more") for v in ("-1", "nan", "inf", "soon")),
    (c.verify_interval, "-1", "auto, or a number of seconds, 0 or more (0: off)"),
    (c.verify_interval, "often", "auto, or a number of seconds, 0 or more (0: off)"),
    *((c.watch_interval, v, "a number of seconds from 0 to 5") for v in ("5.01", "-0.1", "nan", "x")),
    (c.archive_journal, "never", "off, or a number of seconds, 0 or more"),
    (c.archive_journal, "-3", "off, or a number of seconds, 0 or more"),
    *((c.positive_number, v, "a number greater than 0") for v in ("0", "-2", "x", "inf")),
    *((c.positive_int, v, "a whole number, 1 or more") for v in ("0", "2.5", "-1", "two")),
    *((c.numeric_id, v, "a numeric id, 0 to 2147483647") for v in ("-1", "2147483648", "www-data")),
    (c.log_format, "xml", "console or json"),
    (c.log_level, "error", "debug, info or warning"),
    (c.words, "-a 'unclosed", "words a shell could split (No closing quotation)"),
    (c.excludes, "-ignore='Name x' -prefer host", "ignore patterns like 'Name x', one per line"),
    (c.ignore_pattern, "Glob *.o", "ignore patterns like 'Name x', 'Path a/b', 'BelowPath c' or 'Regex r'"),
    (c.ignore_pattern, "Name ", "ignore patterns like 'Name x'"),
    (c.ignore_pattern, "Path /abs", "a relative path after Path (unison refuses 'Path /abs')"),
    (c.ignore_pattern, "BelowPath /abs", "a relative path after BelowPath"),
    (c.ignore_pattern, "Regex (", "well-formed ignore patterns ('Regex ('"),
    (c.runtime_folder, "/" + "r" * 91, "a folder path of at most 91 bytes (it holds a unix socket)"),
    (c.prefer, "older", "host, app, newer or an absolute root path"),
    (c.prefer, "host_sync", "host, app, newer or an absolute root path"),
]


@pytest.mark.parametrize(("convert", "text", "accepted"), REFUSED)
def test_a_refused_value_says_what_is_accepted(convert: Converter, text: str, accepted: str) -> None:
    with pytest.raises(ValueError) as refused:
        convert(text)
    message = str(refused.value)
    assert message.startswith(accepted)
    assert "\n" not in message


def test_an_excludes_refusal_is_the_refusal_of_its_pattern() -> None:
    with pytest.raises(ValueError, match=r"^a relative path after Path"):
        c.excludes("Name ok\nPath /abs")
    with pytest.raises(ValueError, match=r"^a relative path after Path"):
        c.excludes("-ignore 'Path /abs'")
