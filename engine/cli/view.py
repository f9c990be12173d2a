"""``native-sync status``: the status object (:meth:`engine.status.Status.json`) as a person reads it.

A few aligned lines, the way ``git status`` and ``mutagen sync list`` print
them: the state in words, the two folders, the last sync and how long ago,
pending changes, then each problem, each conflict and each warning, and the
drift verifier's last pass.  Colour (plain ANSI: this short-lived command needs
no library for five colours) only when asked, i.e. on a terminal.
``status --json`` prints the object itself.  :func:`render` is pure: the
status, the folders and the time ``now`` are given.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

STATES = {
    "starting": "starting",
    "initial-sync": "initial sync: bringing the app folder to the host's content",
    "indexing": "indexing: the app folder is ready, unison builds its index (changes wait)",
    "watching": "watching: changes sync both ways",
    "degraded": "degraded: watching, but something cannot sync (below)",
    "stopping": "stopping: the last changes are being flushed",
    "failed": "failed: nothing syncs",
}
COLOURS = {"green": "32", "yellow": "33", "red": "31", "bold": "1", "dim": "2"}
STATE_COLOUR = {"watching": "green", "indexing": "green", "degraded": "yellow", "failed": "red"}
RESOLVE_HINT = "resolve: native-sync conflicts keep host|app PATH"


@dataclass(frozen=True)
class Paint:
    """ANSI colours, or none."""

    on: bool

    def __call__(self, colour: str, text: str) -> str:
        return f"\033[{COLOURS[colour]}m{text}\033[0m" if self.on else text


def parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def ago(seconds: float) -> str:
    """``12 s ago``, ``3 min ago``, ``2 h ago``, ``4 days ago``."""
    seconds = max(seconds, 0.0)
    if seconds < 90:
        return f"{seconds:.0f} s ago"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 36 * 3600:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} days ago"


def when(value: object, now: datetime) -> str:
    """An ISO time as ``2026-12-02 03:10:05 UTC (12 s ago)``; ``never`` when there is none."""
    moment = parse_time(value)
    if moment is None:
        return "never"
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC ({ago((now - moment).total_seconds())})"


def size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def render(status: dict[str, Any], host: str, app: str, now: datetime, colour: bool = False) -> str:
    """The view of ``status`` (the object ``status --json`` prints); ends with a newline."""
    paint = Paint(colour)
    state = str(status.get("state", "starting"))
    words = STATES.get(state, state)
    if state == "failed" and status.get("error"):
        words = f"failed: {status['error']}"
    headline = f"native-sync  {paint(STATE_COLOUR.get(state, 'bold'), words)}"
    count = int((status.get("conflicts") or {}).get("count") or 0)
    if count:
        headline += paint("yellow", f"; {plural(count, 'conflict')} to look at (below)")
    lines = [headline]
    roots = status.get("roots") or {}
    rows: list[tuple[str, str]] = [
        ("host", host + _folding(roots.get("host"))),
        ("app", app + _folding(roots.get("app"))),
    ]
    rows.append(("last sync", when(status.get("last_sync_at"), now)))
    pending = int(status.get("pending_changes") or 0)
    rows.append(("pending", "nothing" if pending == 0 else plural(pending, "change") + " waiting for unison"))
    progress = status.get("initial_sync_progress")
    if isinstance(progress, dict):
        rows.append((str(progress.get("phase") or "copying"), _progress(progress)))
    unison = status.get("unison") or {}
    if unison.get("pid"):
        text = f"running (pid {unison['pid']})"
        if unison.get("restarts"):
            text += f", restarted {plural(int(unison['restarts']), 'time')}"
            if unison.get("last_restart_reason"):
                text += f" (last: {unison['last_restart_reason']})"
        rows.append(("unison", text))
    elif state in ("watching", "degraded", "indexing"):
        rows.append(("unison", paint("red", "not running")))
    rows.append(("verifier", _verifier(status.get("verifier") or {}, now)))
    width = max(len(k) for k, _ in rows)
    lines += [f"  {k.ljust(width)}  {v}" for k, v in rows]
    if status.get("roots_error"):
        lines += ["", paint("red", f"A folder cannot be used: {status['roots_error']}")]
    lines += _problems(status.get("problems") or [], now, paint)
    lines += _skipped(status.get("skipped") or [])
    lines += _conflicts(status.get("conflicts") or {}, now, paint)
    warnings = status.get("warnings") or []
    if warnings:
        lines += ["", paint("yellow", f"Warnings ({len(warnings)}):")]
        lines += [f"  {w}" for w in warnings]
    return "\n".join(lines) + "\n"


def _folding(root: object) -> str:
    """What a root's probe found that changes how names sync (nothing said for a plain Linux folder)."""
    if not isinstance(root, dict):
        return ""
    folds = [
        word
        for key, word in (("case_insensitive", "case"), ("normalization_insensitive", "Unicode form"))
        if root.get(key)
    ]
    said = [f"ignores {' and '.join(folds)} in names"] if folds else []
    if root.get("permissions") is False:
        said.append("keeps no permissions")
    return f"  ({'; '.join(said)})" if said else ""


def _progress(p: dict[str, Any]) -> str:
    files, total = p.get("files") or 0, p.get("files_total")
    text = f"{files} of {total} files" if total else f"{files} files"
    text += f", {size(p.get('bytes') or 0)}"
    if p.get("bytes_total"):
        text += f" of {size(p['bytes_total'])}"
    text += f" ({p.get('files_per_second', 0)} files/s, {p.get('mb_per_second', 0)} MB/s"
    eta = p.get("eta_seconds")
    text += f", about {eta:.0f} s left)" if isinstance(eta, int | float) else ")"
    return text


def _verifier(v: dict[str, Any], now: datetime) -> str:
    last = parse_time(v.get("last_pass_at"))
    if last is None:
        return "no pass yet"
    text = (
        f"last pass {ago((now - last).total_seconds())}: {plural(int(v.get('paths_checked') or 0), 'path')}"
    )
    if v.get("seconds") is not None:
        text += f" in {v['seconds']:.2f} s"
    repaired = int(v.get("drift_repaired") or 0)
    text += f", {plural(repaired, 'drift')} repaired" if repaired else ", no drift"
    return text


def _problems(problems: list[dict[str, Any]], now: datetime, paint: Paint) -> list[str]:
    if not problems:
        return []
    lines = ["", paint("yellow", f"Problems ({len(problems)}): these paths do not sync")]
    width = min(max(len(p.get("path", "")) for p in problems), 40)
    for p in problems:
        since = parse_time(p.get("since"))
        age = f"  (since {ago((now - since).total_seconds())})" if since else ""
        lines.append(
            f"  {p.get('path', '').ljust(width)}  {p.get('side', ''):<4}  {p.get('reason', '')}{age}"
        )
    return lines


def _skipped(skipped: list[dict[str, Any]]) -> list[str]:
    """Special files skipped by rule: said once, no problem (no colour, no age)."""
    if not skipped:
        return []
    lines = ["", f"Skipped ({len(skipped)}): files that cannot be synced by their nature"]
    width = min(max(len(p.get("path", "")) for p in skipped), 40)
    for p in skipped:
        lines.append(f"  {p.get('path', '').ljust(width)}  {p.get('side', ''):<4}  {p.get('reason', '')}")
    return lines


def _conflicts(conflicts: dict[str, Any], now: datetime, paint: Paint) -> list[str]:
    listed = conflicts.get("list") or []
    count = int(conflicts.get("count") or 0)
    if not count and not listed:
        return []
    lines = ["", paint("yellow", f"Conflicts ({count}): both sides changed; the losing version is kept")]
    for c in listed:
        moment = parse_time(c.get("at"))
        age = f" ({ago((now - moment).total_seconds())})" if moment else ""
        lines.append(
            f"  {c.get('path')}  {c.get('winner')} won{age}; {c.get('loser')}'s version: {c.get('kept')}"
        )
    extra = [r for r in conflicts.get("recent") or [] if r not in {c.get("kept") for c in listed}]
    lines += [f"  {r}  (a copy unison left in the folder)" for r in extra]
    lines.append(paint("dim", f"  {RESOLVE_HINT}"))
    return lines
