"""engine/fsmonitor/select_loop.py: one thread reads every input and is the only writer to stdout.

:func:`serve` runs in the test's (main) thread on real pipes: unison's stdin
and stdout, the watcher's and the verifier's descriptors; the handler is a
recording fake.  What must happen while ``serve`` waits (a line in two
pieces, SIGUSR1) is done by a helper thread that waits for the loop with a
deadline, so a loop that never wakes fails the test instead of hanging it.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest

from engine.fsmonitor.inotify import Batch, WatchesExhausted
from engine.fsmonitor.protocol import ProtocolError, quote
from engine.fsmonitor.select_loop import serve, write_lines
from engine.fsmonitor.verifier import Pass

WAIT = 10.0  # seconds a helper thread waits for the loop


@dataclass
class Handler:
    """Records what the loop hands it; ``answers`` maps a command line to its answer."""

    answers: dict[str, list[str]] = field(default_factory=dict)
    seen: list[tuple[str, object]] = field(default_factory=list)
    ticked: list[str] = field(default_factory=list)  # lines tick answers, once
    due: list[float | None] = field(default_factory=list)  # deadlines to give, then None
    on_tick: Callable[[], None] = lambda: None
    serving: threading.Event = field(default_factory=threading.Event)
    flush_asked: threading.Event = field(default_factory=threading.Event)
    ticks: int = 0
    published: int = 0

    def deadline(self, now: float) -> float | None:
        self.serving.set()
        return self.due.pop(0) if self.due else None

    def command(self, line: str, now: float) -> list[str]:
        self.seen.append(("command", line))
        if line == "BAD":
            raise ProtocolError("unknown command 'BAD'")
        return self.answers.get(line, [])

    def events(self, batch: Batch, now: float) -> list[str]:
        self.seen.append(("events", batch))
        return [f"EVENTS {len(batch.changed)}"]

    def verified(self, passes: list[Pass], now: float) -> None:
        self.seen.append(("verified", passes))

    def tick(self, now: float) -> list[str]:
        self.ticks += 1
        self.on_tick()
        out, self.ticked = self.ticked, []
        return out

    def request_full_sync(self) -> None:
        self.seen.append(("flush", None))
        self.flush_asked.set()

    def publish_changes(self, now: float) -> None:
        self.published += 1

    def publish(self, now: float) -> None:
        self.published += 1


class Readable:
    """A descriptor the test makes readable (the watcher's, the verifier's), and what reading it gives."""

    def __init__(self, gives: Callable[[], object]) -> None:
        self.r, self.w = os.pipe()
        self.gives = gives

    def ready(self) -> None:
        os.write(self.w, b"x")

    def fileno(self) -> int:
        return self.r

    def take(self) -> object:
        os.read(self.r, 64)
        return self.gives()


class Watcher(Readable):
    def __init__(self, batch: Batch | Exception) -> None:
        super().__init__(lambda: batch)

    def read(self) -> Batch:
        found = self.take()
        if isinstance(found, Exception):
            raise found
        assert isinstance(found, Batch)
        return found


class Verifier(Readable):
    def __init__(self, passes: list[Pass]) -> None:
        super().__init__(lambda: passes)
        self.passes = passes

    def results(self) -> list[Pass]:
        self.take()
        return self.passes


@dataclass
class Pipes:
    stdin_r: int
    stdin_w: int
    stdout_r: int
    stdout_w: int

    closed: set[int] = field(default_factory=set)

    def send(self, data: bytes) -> None:
        os.write(self.stdin_w, data)

    def close(self, fd: int) -> None:
        if fd not in self.closed:
            self.closed.add(fd)
            os.close(fd)

    def close_stdin(self) -> None:
        self.close(self.stdin_w)

    def output(self) -> bytes:
        self.close(self.stdout_w)
        self.closed.add(self.stdout_r)
        with os.fdopen(self.stdout_r, "rb") as f:
            return f.read()


@pytest.fixture
def pipes() -> Iterator[Pipes]:
    """unison's side of the loop's stdin and stdout; the loop's signal handling undone after."""
    stdin_r, stdin_w = os.pipe()
    stdout_r, stdout_w = os.pipe()
    before = signal.getsignal(signal.SIGUSR1)
    made = Pipes(stdin_r, stdin_w, stdout_r, stdout_w)
    try:
        yield made
    finally:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGUSR1, before)
        for fd in (stdin_r, stdin_w, stdout_r, stdout_w):
            made.close(fd)


def serve_on(
    pipes: Pipes, handler: Handler, watcher: Watcher | None = None, verifier: Verifier | None = None
) -> int:
    return serve(
        handler, watcher or Watcher(Batch(set())), verifier, stdin=pipes.stdin_r, stdout=pipes.stdout_w
    )


def in_thread(work: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    return thread


def test_each_command_line_is_answered_in_order_until_unison_closes_stdin(pipes: Pipes) -> None:
    handler = Handler(answers={"VERSION 1": ["VERSION 1"], "START h1 /r ": ["OK"], "WAIT h1": []})
    pipes.send(b"VERSION 1\nSTART h1 /r \nWAIT h1\n")
    pipes.close_stdin()
    assert serve_on(pipes, handler) == 0
    assert [line for kind, line in handler.seen if kind == "command"] == [
        "VERSION 1",
        "START h1 /r ",
        "WAIT h1",
    ]
    assert pipes.output() == b"VERSION 1\nOK\n"
    assert handler.published >= 1  # fsmonitor.json written on the way out too


def test_a_line_that_arrives_in_pieces_is_handled_once_whole(pipes: Pipes) -> None:
    handler = Handler(answers={"WAIT h1": ["CHANGES h1"]})
    first_round = threading.Event()
    handler.on_tick = first_round.set

    def unison() -> None:
        pipes.send(b"WA")
        if first_round.wait(WAIT):  # the loop read the first piece
            pipes.send(b"IT h1\n")
        pipes.close_stdin()

    thread = in_thread(unison)
    assert serve_on(pipes, handler) == 0
    thread.join(WAIT)
    assert handler.seen == [("command", "WAIT h1")]
    assert handler.ticks >= 2
    assert pipes.output() == b"CHANGES h1\n"


def test_a_name_that_is_not_utf8_goes_back_byte_for_byte(pipes: Pipes) -> None:
    raw = b"caf\xe9.txt"  # Latin-1 on disk
    name = raw.decode("utf-8", "surrogateescape")
    handler = Handler(answers={f"ECHO {name}": [f"RECURSIVE {name}"]})
    pipes.send(b"ECHO " + raw + b"\n")
    pipes.close_stdin()
    serve_on(pipes, handler)
    assert pipes.output() == b"RECURSIVE " + raw + b"\n"


def test_one_round_answers_events_then_commands_then_what_is_due(pipes: Pipes) -> None:
    handler = Handler(answers={"WAIT h1": ["FROM COMMAND"]}, ticked=["FROM TICK"])
    watcher = Watcher(Batch({("h1", "a"), ("h1", "b")}))
    watcher.ready()
    pipes.send(b"WAIT h1\n")
    pipes.close_stdin()  # the EOF comes in the next round
    assert serve_on(pipes, handler, watcher) == 0
    assert pipes.output() == b"EVENTS 2\nFROM COMMAND\nFROM TICK\n"


def test_the_verifiers_passes_are_handed_over_when_its_pipe_is_readable(pipes: Pipes) -> None:
    handler = Handler()
    handler.on_tick = pipes.close_stdin  # one round, then unison goes
    done = [Pass(("/h", "/a"), frozenset({"x"}), (), 1, 0.0, 0.0, 0.0, 0.0)]
    verifier = Verifier(done)
    verifier.ready()
    assert serve_on(pipes, handler, verifier=verifier) == 0
    assert handler.seen == [("verified", done)]


def test_the_handlers_deadline_wakes_the_loop_with_no_input(pipes: Pipes) -> None:
    handler = Handler(due=[0.0], ticked=["CHANGES h1"])  # due at once, with nothing to read
    woke = threading.Event()
    handler.on_tick = woke.set

    def unison_goes() -> None:
        woke.wait(WAIT)  # a loop that ignores the deadline never ticks: its output stays empty
        pipes.close_stdin()

    thread = in_thread(unison_goes)
    assert serve_on(pipes, handler) == 0
    thread.join(WAIT)
    assert pipes.output() == b"CHANGES h1\n"
    assert handler.seen == []


def test_sigusr1_asks_for_a_full_sync_and_wakes_the_loop(pipes: Pipes) -> None:
    handler = Handler()
    asked_in_time: list[bool] = []

    def flush() -> None:
        handler.serving.wait(WAIT)
        # `native-sync flush`, caught by this thread: only the wake-up pipe can wake the loop
        signal.pthread_kill(threading.get_ident(), signal.SIGUSR1)
        asked_in_time.append(handler.flush_asked.wait(WAIT))
        pipes.close_stdin()

    thread = in_thread(flush)
    assert serve_on(pipes, handler) == 0
    thread.join(WAIT)
    assert asked_in_time == [True]
    assert ("flush", None) in handler.seen


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ("command", "unknown command 'BAD'"),
        ("watcher", "inotify watches exhausted"),
    ],
)
def test_an_error_unison_must_hear_of_is_one_error_line_and_exit_1(
    pipes: Pipes, fault: str, message: str
) -> None:
    handler = Handler()
    watcher = Watcher(WatchesExhausted(message) if fault == "watcher" else Batch(set()))
    if fault == "watcher":
        watcher.ready()
    else:
        pipes.send(b"BAD\n")
    assert serve_on(pipes, handler, watcher) == 1
    assert pipes.output() == f"ERROR {quote(message)}\n".encode()


def test_write_lines_writes_all_of_it_however_little_each_write_takes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    r, w = os.pipe()
    real_write = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: real_write(fd, bytes(data)[:3]))
    write_lines(w, ["RECURSIVE a b", "DONE"])
    write_lines(w, [])
    monkeypatch.undo()
    os.close(w)
    with os.fdopen(r, "rb") as f:
        assert f.read() == b"RECURSIVE a b\nDONE\n"
