"""engine/fsmonitor/protocol.py on scripted lines: unison's side of ``src/fswatch.ml``, no inotify."""

from __future__ import annotations

import pytest

from engine.fs.paths import join
from engine.fsmonitor.protocol import Protocol, ProtocolError, collapse, quote, unquote
from tests.fakes import FakeBackend

# unison 2.52 src/fswatch.ml, disallowed_char: these bytes are sent as they are.
UNISON_SAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~!*'();:@&=+$,/?#[]"


def unison_quote(raw: bytes) -> str:
    """A transcription of unison's ``quote`` (fswatch.ml), byte by byte."""
    return "".join(
        chr(b) if chr(b) in UNISON_SAFE else "%" + "0123456789ABCDEF"[b >> 4] + "0123456789ABCDEF"[b & 15]
        for b in raw
    )


@pytest.fixture
def backend() -> FakeBackend:
    return FakeBackend()


@pytest.fixture
def proto(backend: FakeBackend) -> Protocol:
    return Protocol(backend)


def test_version_handshake(proto: Protocol) -> None:
    assert proto.handle("VERSION 1") == ["VERSION 1"]


def test_unsupported_version_is_an_error(proto: Protocol) -> None:
    (reply,) = proto.handle("VERSION 2")
    assert reply.startswith("ERROR ")


def test_debug_has_no_answer(proto: Protocol) -> None:
    assert proto.handle("DEBUG") == []


def test_scan_answers_ok_and_joins_paths_to_the_start_path(proto: Protocol, backend: FakeBackend) -> None:
    assert proto.handle("START h1 /root sub") == ["OK"]
    assert proto.handle("DIR ") == ["OK"]
    assert proto.handle("DIR a") == ["OK"]
    assert proto.handle("DIR a/b%20c") == ["OK"]
    assert proto.handle("LINK l") == ["OK"]
    assert proto.handle("DONE") == []
    assert backend.calls == [
        ("start", "h1", "/root", "sub"),
        ("dir", "h1", "sub"),
        ("dir", "h1", "sub/a"),
        ("dir", "h1", "sub/a/b c"),
        ("link", "h1", "sub/l"),
    ]


def test_start_with_empty_path_is_the_root(proto: Protocol, backend: FakeBackend) -> None:
    # unison sends "START %s %s %s" with an empty path: a trailing space.
    assert proto.handle("START h /root ") == ["OK"]
    assert proto.handle("DIR ") == ["OK"]
    assert proto.handle("DIR x") == ["OK"]
    assert backend.calls == [("start", "h", "/root", ""), ("dir", "h", ""), ("dir", "h", "x")]


def test_start_arguments_are_unquoted(proto: Protocol, backend: FakeBackend) -> None:
    assert proto.handle("START h%20x /my%20root a%25b") == ["OK"]
    assert backend.calls == [("start", "h x", "/my root", "a%b")]


def test_dir_outside_a_scan_is_an_error(proto: Protocol) -> None:
    with pytest.raises(ProtocolError):
        proto.handle("DIR a")
    proto.handle("START h /r ")
    proto.handle("DONE")
    with pytest.raises(ProtocolError):
        proto.handle("LINK a")


def test_changes_answers_recursive_lines_then_done_and_clears(proto: Protocol) -> None:
    proto.add_changes("h", {"b", "a c", "d/e"})
    assert proto.handle("CHANGES h") == ["RECURSIVE a%20c", "RECURSIVE b", "RECURSIVE d/e", "DONE"]
    assert proto.pending_count() == 0
    assert proto.handle("CHANGES h") == ["DONE"]


def test_changes_collapses_nested_paths(proto: Protocol) -> None:
    proto.add_changes("h", {"a/b/c", "a/b", "a/bc", "x/y", "x/y/z"})
    assert proto.handle("CHANGES h") == ["RECURSIVE a/b", "RECURSIVE a/bc", "RECURSIVE x/y", "DONE"]


def test_changes_of_the_root_covers_everything(proto: Protocol) -> None:
    proto.add_changes("h", {"a", ""})
    assert proto.handle("CHANGES h") == ["RECURSIVE ", "DONE"]


def test_changes_of_one_replica_leaves_the_other(proto: Protocol) -> None:
    proto.add_changes("h1", {"a"})
    proto.add_changes("h2", {"b"})
    assert proto.handle("CHANGES h1") == ["RECURSIVE a", "DONE"]
    assert proto.pending == {"h2": {"b"}}


def test_wait_is_answered_at_once_when_changes_are_pending(proto: Protocol) -> None:
    proto.add_changes("h", {"a"})
    assert proto.handle("WAIT h") == ["CHANGES h"]


def test_wait_is_answered_later_by_add_changes(proto: Protocol) -> None:
    assert proto.handle("WAIT h") == []
    assert proto.add_changes("h", {"a"}) == ["CHANGES h"]
    # answered once: the wait is used up
    assert proto.add_changes("h", {"b"}) == []


def test_changes_for_a_replica_nobody_waits_for_are_not_announced(proto: Protocol) -> None:
    assert proto.handle("WAIT h1") == []
    assert proto.add_changes("h2", {"a"}) == []
    assert proto.add_changes("h1", {"a"}) == ["CHANGES h1"]


def test_empty_changes_wake_nobody(proto: Protocol) -> None:
    assert proto.handle("WAIT h") == []
    assert proto.add_changes("h", set()) == []


def test_no_changes_answer_without_a_pending_wait(proto: Protocol) -> None:
    assert proto.add_changes("h", {"a"}) == []


@pytest.mark.parametrize("other", ["CHANGES h2", "START h2 /r ", "DEBUG", "RESET h2", "VERSION 1"])
def test_any_other_command_cancels_the_pending_waits(proto: Protocol, other: str) -> None:
    # autozimu/unison-fsmonitor issue 17: answering a cancelled WAIT breaks unison.
    assert proto.handle("WAIT h1") == []
    proto.handle(other)
    assert proto.add_changes("h1", {"a"}) == []


def test_done_cancels_the_pending_waits(proto: Protocol) -> None:
    proto.handle("START h1 /r ")
    proto.handle("WAIT h1")
    proto.handle("DONE")
    assert proto.add_changes("h1", {"a"}) == []


def test_several_replicas_in_one_wait_round(proto: Protocol) -> None:
    assert proto.handle("WAIT h1") == []
    assert proto.handle("WAIT h2") == []
    proto.add_changes("h2", {"x"})
    # the round is over once answered: a later change of h1 waits for the next WAIT
    assert proto.pending == {"h2": {"x"}}
    assert proto.add_changes("h1", {"y"}) == []
    assert proto.handle("WAIT h1") == ["CHANGES h1"]


def test_changes_lists_only_replicas_that_were_waited_for(proto: Protocol) -> None:
    proto.add_changes("h1", {"a"})
    proto.add_changes("h2", {"b"})
    assert proto.handle("WAIT h2") == ["CHANGES h2"]
    assert proto.handle("WAIT h1") == ["CHANGES h1"]


def test_reset_drops_pending_and_tells_the_backend(proto: Protocol, backend: FakeBackend) -> None:
    proto.add_changes("h", {"a"})
    proto.add_changes("k", {"b"})
    assert proto.handle("RESET h") == []
    assert backend.calls == [("reset", "h")]
    assert proto.handle("WAIT h") == []
    assert proto.handle("CHANGES h") == ["DONE"]
    assert proto.pending == {"k": {"b"}}


def test_the_backend_hears_of_every_wait_with_what_waits(proto: Protocol, backend: FakeBackend) -> None:
    """The pending count goes with the WAIT (the backend asks nothing of the protocol back)."""
    assert proto.handle("WAIT h1") == []
    assert proto.add_changes("h1", {"a", "b/c"}) == ["CHANGES h1"]
    proto.handle("CHANGES h1")
    assert proto.add_changes("h2", {"a"}) == []
    assert proto.handle("WAIT h1") == []
    assert proto.handle("WAIT h2") == ["CHANGES h2"]
    assert backend.waited == [("h1", 0), ("h1", 1), ("h2", 1)]


def test_the_backend_hears_which_changes_were_taken(proto: Protocol, backend: FakeBackend) -> None:
    proto.add_changes("h1", {"a/b", "a", "c"})
    proto.handle("CHANGES h1")
    proto.handle("CHANGES h2")
    # what unison was told, collapsed; nothing for a replica without changes
    assert backend.taken == [("h1", ["a", "c"]), ("h2", [])]


@pytest.mark.parametrize("line", ["BOGUS", "wait h", "HELLO world", ""])
def test_unknown_command_raises(proto: Protocol, line: str) -> None:
    with pytest.raises(ProtocolError):
        proto.handle(line)


@pytest.mark.parametrize("line", ["START h /r", "WAIT", "WAIT a b", "CHANGES", "RESET", "DIR"])
def test_wrong_number_of_arguments_raises(proto: Protocol, line: str) -> None:
    proto.handle("START x /r ")
    with pytest.raises(ProtocolError):
        proto.handle(line)


# --- percent quoting ------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "plain",
        "with space",
        "new\nline",
        "carriage\rreturn",
        "100%",
        "%41 literally",
        "ünïcødé/日本語",
        "emoji 🎉",
        b"latin1 \xe9\xff".decode("utf-8", "surrogateescape"),
        "",
        "a/b/c",
        UNISON_SAFE,
        "".join(chr(c) for c in range(1, 128)),
    ],
)
def test_quote_round_trips(text: str) -> None:
    quoted = quote(text)
    assert " " not in quoted and "\n" not in quoted and "\r" not in quoted
    assert quoted.isascii()
    assert unquote(quoted) == text


@pytest.mark.parametrize(
    "raw",
    [
        bytes(range(256)),
        "ünïcødé 日本語 🎉".encode(),
        b"\xe9\xff odd bytes",
        UNISON_SAFE.encode(),
        b"a b\nc%d",
    ],
)
def test_quote_matches_unisons_quote(raw: bytes) -> None:
    text = raw.decode("utf-8", "surrogateescape")
    assert quote(text) == unison_quote(raw)


def test_safe_characters_are_sent_as_they_are() -> None:
    assert quote(UNISON_SAFE) == UNISON_SAFE
    assert quote("a b") == "a%20b"
    assert quote("%") == "%25"
    assert quote("\n") == "%0A"
    assert quote("é") == "%C3%A9"


def test_unquote_accepts_lowercase_hex() -> None:
    # fswatch.ml: "The two processes should accept any other escaped character."
    assert unquote("%c3%a9%2f%41") == "é/A"


def test_unquote_of_non_utf8_bytes_keeps_them() -> None:
    text = unquote("caf%E9")
    assert text.encode("utf-8", "surrogateescape") == b"caf\xe9"


def test_lines_with_quoted_arguments_reach_the_backend(proto: Protocol, backend: FakeBackend) -> None:
    name = b"dir \xe9\n100%".decode("utf-8", "surrogateescape")
    proto.handle("START h /r ")
    proto.handle(f"DIR {quote(name)}")
    assert backend.calls[-1] == ("dir", "h", name)
    proto.add_changes("h", {name})
    assert proto.handle("CHANGES h") == [
        f"RECURSIVE {unison_quote(name.encode('utf-8', 'surrogateescape'))}",
        "DONE",
    ]


# --- helpers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "path", "joined"),
    [("", "", ""), ("", "a", "a"), ("a", "", "a"), ("a", "b/c", "a/b/c")],
)
def test_join(prefix: str, path: str, joined: str) -> None:
    assert join(prefix, path) == joined


def test_collapse_sorts_by_component() -> None:
    # "a/b" sorts before "a-b" by components ('a' < 'a-b'), so "a/b/c" is still dropped
    assert collapse({"a-b", "a/b/c", "a/b", "a"}) == ["a", "a-b"]
    assert collapse({"a-b", "a/b/c", "a/b"}) == ["a/b", "a-b"]
