"""A point in time that several steps share: each takes what it needs of what is left."""

from __future__ import annotations

import time
from collections.abc import Callable


class Deadline:
    """``seconds`` from now on ``clock``; steps ask :meth:`share` for their timeout."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._end = clock() + seconds

    def remaining(self) -> float:
        """Seconds left, never below 0."""
        return max(0.0, self._end - self._clock())

    def share(self, most: float, keep: float = 0.0) -> float:
        """A step's timeout: at most ``most``, leaving ``keep`` seconds for the steps after it."""
        return max(0.0, min(most, self.remaining() - keep))
