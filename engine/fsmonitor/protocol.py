"""unison's file-monitor protocol (``src/fswatch.ml`` header), with no I/O.

unison writes one command per line; :meth:`Protocol.handle` returns the lines
to answer.  Changes found by the watcher enter through
:meth:`Protocol.add_changes`, which answers only while a ``WAIT`` is pending:
unison's reader treats an unsolicited ``CHANGES`` as a wake-up, so answering a
cancelled wait would start a sync nobody asked for.  Any command other than
``WAIT`` cancels the pending waits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol as TypingProtocol

from engine.fs.paths import join

VERSION = "1"

_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~!*'();:@&=+$,/?#[]")


def quote(text: str) -> str:
    """Percent-encode as unison does: every byte outside its safe set."""
    raw = text.encode("utf-8", "surrogateescape")
    return "".join(chr(b) if b in _SAFE else f"%{b:02X}" for b in raw)


def unquote(text: str) -> str:
    """Undo :func:`quote`; bytes that are not UTF-8 survive as surrogates."""
    if "%" not in text:
        return text
    out = bytearray()
    raw = text.encode("utf-8", "surrogateescape")
    i = 0
    while i < len(raw):
        if raw[i] == 0x25 and i + 2 < len(raw) and _is_hex(raw[i + 1 : i + 3]):
            out.append(int(raw[i + 1 : i + 3], 16))
            i += 3
        else:
            out.append(raw[i])
            i += 1
    return out.decode("utf-8", "surrogateescape")


def _is_hex(pair: bytes) -> bool:
    return len(pair) == 2 and all(c in b"0123456789abcdefABCDEF" for c in pair)


class ProtocolError(Exception):
    """unison sent a line this helper cannot act on."""


class Backend(TypingProtocol):
    """What the protocol asks of the watcher."""

    def start(self, replica: str, root: str, path: str) -> None:
        """Watch ``root/path`` of ``replica`` (a scan begins there)."""

    def watch_dir(self, replica: str, path: str) -> None:
        """Watch directory ``path`` (relative to the replica's root)."""

    def follow_link(self, replica: str, path: str) -> None:
        """Watch the target of the followed link ``path``."""

    def reset(self, replica: str) -> None:
        """unison will rescan ``replica``: forget what is pending for it."""

    def waiting(self, replica: str, pending: int) -> None:
        """unison waits for changes of ``replica`` (``WAIT``): its sync is done.

        ``pending`` paths (over all replicas) already wait to be taken.
        """

    def changes_taken(self, replica: str, paths: list[str]) -> None:
        """unison took ``paths`` of ``replica`` (``CHANGES``): it syncs them now."""


@dataclass
class _Scan:
    replica: str
    prefix: str


@dataclass
class Protocol:
    """The protocol state: replicas, the scan under way, waits and changes."""

    backend: Backend
    waits: set[str] = field(default_factory=set)
    pending: dict[str, set[str]] = field(default_factory=dict)
    scan: _Scan | None = None

    def handle(self, line: str) -> list[str]:
        """Answer one command line from unison (without its newline)."""
        command, space, rest = line.rstrip("\r\n").partition(" ")
        args = [unquote(a) for a in rest.split(" ")] if space else []
        if command != "WAIT":
            self.waits.clear()
        # commands are upper case (fswatch.ml); "wait" is not WAIT
        handler = getattr(self, f"_cmd_{command.lower()}", None) if command.isupper() else None
        if handler is None:
            raise ProtocolError(f"unknown command {command!r}")
        result: list[str] = handler(args)
        return result

    def add_changes(self, replica: str, paths: set[str] | list[str]) -> list[str]:
        """Record changed ``paths`` of ``replica``; answer a pending WAIT."""
        if paths:
            self.pending.setdefault(replica, set()).update(paths)
        return self._wake()

    def pending_count(self) -> int:
        """How many paths wait to be taken by unison, over all replicas."""
        return sum(len(p) for p in self.pending.values())

    # --- commands -------------------------------------------------------------

    def _cmd_version(self, args: list[str]) -> list[str]:
        if args and args[0] != VERSION:
            return [f"ERROR {quote('unsupported protocol version ' + args[0])}"]
        return [f"VERSION {VERSION}"]

    def _cmd_debug(self, args: list[str]) -> list[str]:
        return []  # unison's debug switch: this helper logs the same either way

    def _cmd_start(self, args: list[str]) -> list[str]:
        replica, root, path = _expect(args, 3, "START hash fspath path")
        self.scan = _Scan(replica, path)
        self.backend.start(replica, root, path)
        return ["OK"]

    def _cmd_dir(self, args: list[str]) -> list[str]:
        self.backend.watch_dir(*self._in_scan(args, "DIR"))
        return ["OK"]

    def _cmd_link(self, args: list[str]) -> list[str]:
        self.backend.follow_link(*self._in_scan(args, "LINK"))
        return ["OK"]

    def _cmd_done(self, args: list[str]) -> list[str]:
        self.scan = None
        return []

    def _cmd_wait(self, args: list[str]) -> list[str]:
        (replica,) = _expect(args, 1, "WAIT hash")
        self.backend.waiting(replica, self.pending_count())
        self.waits.add(replica)
        return self._wake()

    def _cmd_changes(self, args: list[str]) -> list[str]:
        (replica,) = _expect(args, 1, "CHANGES hash")
        paths = collapse(self.pending.pop(replica, set()))
        self.backend.changes_taken(replica, paths)
        return [f"RECURSIVE {quote(p)}" for p in paths] + ["DONE"]

    def _cmd_reset(self, args: list[str]) -> list[str]:
        (replica,) = _expect(args, 1, "RESET hash")
        self.pending.pop(replica, None)
        self.backend.reset(replica)
        return []

    # --- helpers ----------------------------------------------------------------

    def _in_scan(self, args: list[str], command: str) -> tuple[str, str]:
        (path,) = _expect(args, 1, f"{command} path")
        if self.scan is None:
            raise ProtocolError(f"{command} outside a START ... DONE scan")
        return self.scan.replica, join(self.scan.prefix, path)

    def _wake(self) -> list[str]:
        ready = sorted(r for r in self.waits if self.pending.get(r))
        if not ready:
            return []
        self.waits.clear()
        return ["CHANGES " + " ".join(quote(r) for r in ready)]


def _expect(args: list[str], count: int, form: str) -> list[str]:
    if len(args) != count:
        raise ProtocolError(f"expected {form!r}, got {len(args)} arguments")
    return args


def collapse(paths: set[str]) -> list[str]:
    """Sorted paths with every path below another one dropped (RECURSIVE covers it)."""
    if "" in paths:
        return [""]
    kept: list[str] = []
    for path in sorted(paths, key=lambda p: p.split("/")):
        if kept and (path == kept[-1] or path.startswith(kept[-1] + "/")):
            continue
        kept.append(path)
    return kept
