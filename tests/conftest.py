from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.helpers import Engine, make_engine


@pytest.fixture
def engine_factory(tmp_path: Path) -> Iterator[Callable[..., Engine]]:
    """Make engines on fresh folders; all are stopped at the end of the test."""
    made: list[Engine] = []

    def factory(name: str = "e", **env: str) -> Engine:
        engine = make_engine(tmp_path / name, **env)
        made.append(engine)
        return engine

    yield factory
    for engine in made:
        engine.close()


@pytest.fixture
def engine(engine_factory: Callable[..., Engine]) -> Engine:
    return engine_factory()
