"""The report's shared pieces: number formats, a markdown table, lookups in results.json."""

from __future__ import annotations

from typing import Any

NATIVE = "native-sync"
TARGET_SIZE = "10000"
BIG_SIZE = "100000"

Row = list[str]


def ms(value: float | None) -> str:
    return "timeout" if value is None else f"{value:.0f} ms" if value >= 100 else f"{value:.1f} ms"


def secs(value: float | None) -> str:
    return "failed" if value is None else f"{value:.2f} s"


def ratio(value: float | None, base: float | None) -> str:
    if value is None or base is None or base <= 0:
        return "-"
    r = value / base
    return f"{r:.2f}x" if r < 10 else f"{r:.0f}x"


def verdict(ok: bool | None) -> str:
    return "-" if ok is None else "met" if ok else "**MISSED**"


def table(header: Row, rows: list[Row]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def engines_at(results: dict[str, Any], size: str) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = results.get("sizes", {}).get(size, {}).get("engines", {})
    return found


def get(data: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data
