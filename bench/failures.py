"""What failed in a benchmark run: the exit status of ``make bench`` and ``python -m bench.scale``.

A section, an engine or a scale unit that raised (an engine that never became
ready, a measurement that crashed) is recorded as ``{"error": "..."}`` so that
the others still run; that record alone left the exit status at 0. So do
native-sync's edits that never arrived (``None`` in a list of samples, a
``failed`` count in a summary): a number the run could not measure.

A peer's lost edits are not failures: how stock unison loses edits 0.2 s apart
is what the saves section measures. native-sync's own status, copied into the
results, is left out too: its ``error`` is the engine's, already reported
where it mattered.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

NATIVE = "native-sync"  # the label whose lost edits fail a run (bench.run, bench.scale_plan)
SNAPSHOTS = frozenset({"status"})  # the engine's own files, copied: not the run's outcome
SAMPLES = "samples_ms"  # a summary's own samples: its ``failed`` counts them already


def _where(path: tuple[str, ...]) -> str:
    return "/".join(path) or "(the whole run)"


def errors(results: Any, path: tuple[str, ...] = ()) -> list[str]:
    """Every ``error`` recorded in ``results``, as ``where: what``."""
    found: list[str] = []
    if isinstance(results, dict):
        if isinstance(results.get("error"), str):
            found.append(f"{_where(path)}: {results['error']}")
        for key, value in results.items():
            if key not in SNAPSHOTS:
                found += errors(value, (*path, str(key)))
    elif isinstance(results, list):
        for i, value in enumerate(results):
            found += errors(value, (*path, str(i)))
    return found


def _lost(value: Any, path: tuple[str, ...]) -> list[str]:
    """Edits that never arrived under one native-sync entry."""
    found: list[str] = []
    if isinstance(value, dict):
        if isinstance(value.get("failed"), int) and value["failed"] > 0 and "n" in value:
            found.append(f"{_where(path)}: {value['failed']} of {value['n']} edits never arrived")
        for key, item in value.items():
            if key not in SNAPSHOTS and key != SAMPLES:
                found += _lost(item, (*path, str(key)))
    elif isinstance(value, list) and value and all(x is None or isinstance(x, int | float) for x in value):
        missing = sum(1 for x in value if x is None)
        if missing:
            found.append(f"{_where(path)}: {missing} of {len(value)} edits never arrived")
    return found


def lost_edits(results: Any, path: tuple[str, ...] = ()) -> list[str]:
    """native-sync's edits that never arrived, wherever it was measured in ``results``."""
    found: list[str] = []
    if isinstance(results, dict):
        for key, value in results.items():
            here = (*path, str(key))
            found += _lost(value, here) if key == NATIVE else lost_edits(value, here)
    elif isinstance(results, list):
        for i, value in enumerate(results):
            found += lost_edits(value, (*path, str(i)))
    return found


def report(results: dict[str, Any], say: Callable[[str], None]) -> int:
    """Say what failed in ``results``, one line each; the exit status (1 if anything did)."""
    found = errors(results) + lost_edits(results)
    if not found:
        return 0
    say(f"FAILED: {len(found)} measurement(s) failed; the results above are incomplete:")
    for line in found:
        say(f"  {line}")
    return 1
