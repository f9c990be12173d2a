"""The JSON files native-sync's processes share: replaced atomically, read forgivingly.

Which files there are, and what each holds, is :mod:`engine.state.shared`.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def now_iso(timestamp: float | None = None) -> str:
    """``timestamp`` (default: now) as the files write times: UTC, ISO 8601, milliseconds, ``Z``."""
    moment = datetime.now(UTC) if timestamp is None else datetime.fromtimestamp(timestamp, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Replace ``path`` with ``data`` atomically (readers never see half a file)."""
    text = json.dumps(data)  # one string from the C encoder; json.dump writes piece by piece in Python
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def read_json(path: Path) -> dict[str, Any]:
    """The JSON object at ``path``; ``{}`` when it is missing, unreadable or not an object."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def take_json(path: Path) -> dict[str, Any]:
    """:func:`read_json`, and the file removed: a record that serves one reader once."""
    data = read_json(path)
    path.unlink(missing_ok=True)
    return data


# --- typed fields: a value of the promised type, or the default ------------------------------


def typed(data: dict[str, Any], name: str, kind: type[T] | tuple[type, ...], default: T) -> T:
    """``data[name]`` if it has the type the file promises, else ``default``."""
    value = data.get(name, default)
    if isinstance(value, bool) and not isinstance(default, bool):
        return default  # JSON true is no count
    return value if isinstance(value, kind) else default  # type: ignore[return-value]


def number(data: dict[str, Any], name: str, default: float) -> float:
    return float(typed(data, name, (int, float), default))


def text(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    return value if isinstance(value, str) else None


def pid_field(data: dict[str, Any], name: str = "pid") -> int | None:
    value = typed(data, name, int, 0)
    return value if value > 0 else None


def real(data: dict[str, Any], name: str) -> float | None:
    value = typed(data, name, (int, float), None)
    return None if value is None else float(value)


def texts(data: dict[str, Any], name: str) -> tuple[str, ...]:
    return tuple(v for v in typed(data, name, list, []) if isinstance(v, str))
