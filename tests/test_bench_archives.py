"""bench/archives.py: the archive journal counts what was appended, a rewritten file counts whole.

issue 24: the "archive bytes written per second" figure counted the journal's
whole size at every append, so a journal of 1 MB that grew by 100 bytes a sync
read as 1 MB written a sync.
"""

from __future__ import annotations

from pathlib import Path

from bench import archives
from tests.helpers import wait_for

JOURNAL = "jn0123456789abcdef"


def write(path: Path, data: bytes, mode: str) -> None:
    with path.open(mode) as f:
        f.write(data)


def counted(counter: archives.Counter, writes: int) -> dict[str, int]:
    """Waits until the counter has seen ``writes`` writes; its bytes by kind."""
    wait_for(lambda: sum(counter.writes.values()) >= writes, 30, f"{writes} writes counted")
    return dict(counter.bytes)


def test_a_journal_counts_its_growth_and_a_rewrite_counts_whole(tmp_path: Path) -> None:
    journal = tmp_path / JOURNAL
    write(journal, b"h" * 1000, "wb")  # there before the window: not counted
    counter = archives.Counter(tmp_path)
    counter.start()
    try:
        write(journal, b"a" * 50, "ab")
        assert counted(counter, 1) == {"ar": 50}
        write(journal, b"b" * 30, "ab")
        assert counted(counter, 2) == {"ar": 80}
        write(journal, b"c" * 20, "wb")  # truncated and written again (seq 1)
        assert counted(counter, 3) == {"ar": 100}
        journal.unlink()  # folded into the archive, then begun anew
        write(journal, b"d" * 40, "wb")
        assert counted(counter, 4) == {"ar": 140}
        write(journal, b"e" * 10, "ab")
        assert counted(counter, 5) == {"ar": 150}
        fp = tmp_path / "fp0123456789abcdef"
        write(fp, b"f" * 700, "wb")
        assert counted(counter, 6) == {"ar": 150, "fp": 700}
        write(fp, b"g" * 600, "wb")  # a fingerprint cache rewritten: whole, each time
        assert counted(counter, 7) == {"ar": 150, "fp": 1300}
        scratch = tmp_path / "sc0123456789abcdef"
        write(scratch, b"s" * 2000, "wb")  # an archive: counted when its tm name appears
        scratch.rename(tmp_path / "tm0123456789abcdef")
        assert counted(counter, 8) == {"ar": 2150, "fp": 1300}
    finally:
        result = counter.finish()
    assert result["bytes"] == 3450
    assert result["by_kind"] == {"ar": {"bytes": 2150, "writes": 6}, "fp": {"bytes": 1300, "writes": 2}}
