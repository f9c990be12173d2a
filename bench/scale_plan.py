"""What a scale run covers (sizes, peers, full or quick) and how long it is expected to take."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import saves
from bench.scale_measure import FIRST_EDITS, FIRST_GAP, FULL, QUICK, QUICK_INTERVAL, Sizes

NATIVE = "native-sync"
PEERS = {  # slug -> (label, the build whose unison and OCaml fsmonitor it runs)
    "ocaml": ("unison + OCaml fsmonitor (ours)", saves.PATCHED),
    "ocaml-stock": ("unison + OCaml fsmonitor (stock)", saves.STOCK),
}
FULL_SIZES = (10_000, 100_000, 400_000)
QUICK_SIZES = (10_000,)
TMP = "/dev/shm"  # tmpfs: the numbers are the engine's and unison's, not a disk's

# The runtime model (seconds), from a quick run at 10k and 100k on the 2-core
# development machine at load 10 (the estimate came within 1% at 10k; 100k took
# 413 s against 313 s before these per-file figures were raised): per file of a
# size, generating the tree, and each unit's copies, starts, full comparisons
# and removals; the rest is the fixed pacing of the edits and windows.
GENERATE_PER_FILE = 45e-6
NATIVE_PER_FILE = 650e-6
PEER_PER_FILE = 900e-6
OVERHEAD = 20.0  # per unit: settling, the stop's flush, cleanup


@dataclass(frozen=True)
class Plan:
    sizes: tuple[int, ...]
    quick: bool
    peers: tuple[str, ...]
    tmp: str
    counts: Sizes

    def describe(self) -> dict[str, Any]:
        return {
            "sizes": list(self.sizes),
            "quick": self.quick,
            "peers": list(self.peers),
            "counts": dataclasses.asdict(self.counts),
        }


def parse_size(text: str) -> int:
    """``10k``, ``400K``, ``1m`` or ``2500``."""
    text = text.strip().lower()
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    digits = text[:-1] if scale > 1 else text
    if not digits.isdigit() or int(digits) <= 0:
        raise ValueError(f"SCALE_SIZES: {text!r} is not a size (e.g. 10k, 100k, 400k)")
    return int(digits) * scale


def make(sizes: str | None, quick: bool, peers: str | None, tmp: str | None) -> Plan:
    """The plan from the command line or environment; ValueError names what is wrong."""
    chosen = tuple(parse_size(s) for s in sizes.split(",")) if sizes else None
    slugs: tuple[str, ...] = tuple(PEERS)
    if peers is not None:
        slugs = () if peers.strip() in ("", "none") else tuple(p.strip() for p in peers.split(","))
    unknown = [s for s in slugs if s not in PEERS]
    if unknown:
        raise ValueError(f"SCALE_PEERS: {unknown} unknown; expected some of {', '.join(PEERS)} or none")
    place = tmp or TMP
    if not Path(place).is_dir():
        raise ValueError(f"SCALE_TMP: {place!r} is not a folder")
    return Plan(
        sizes=chosen or (QUICK_SIZES if quick else FULL_SIZES),
        quick=quick,
        peers=slugs,
        tmp=place,
        counts=QUICK if quick else FULL,
    )


def paced(counts: Sizes) -> float:
    """Seconds one unit spends pacing its edits and windows, whatever the size."""
    first = 2 * 3 * FIRST_EDITS * FIRST_GAP  # cold and warm, three rounds of six
    isolated = 2 * counts.isolated * (counts.gap + counts.jitter / 2)
    quick = 2 * (counts.gap + counts.quick_edits * QUICK_INTERVAL)
    log = 3.0 + counts.log_edits * (counts.gap + counts.jitter / 2)
    return first + isolated + quick + log + counts.idle_seconds + OVERHEAD


def estimate(plan: Plan) -> dict[str, float]:
    """Expected seconds per size and in total."""
    found: dict[str, float] = {}
    for n in plan.sizes:
        seconds = GENERATE_PER_FILE * n + paced(plan.counts) + NATIVE_PER_FILE * n
        seconds += len(plan.peers) * (paced(plan.counts) + PEER_PER_FILE * n)
        found[str(n)] = round(seconds)
    found["total"] = sum(found.values())
    return found


def describe_estimate(plan: Plan) -> str:
    found = estimate(plan)
    each = ", ".join(f"{int(n):,} files {s / 60:.0f} min" for n, s in found.items() if n != "total")
    return f"~{found['total'] / 60:.0f} min ({each}; the machine's load adds to it)"
