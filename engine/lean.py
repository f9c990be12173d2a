"""Keep what no native-sync process uses out of its memory.

structlog imports :mod:`asyncio` at import time for its ``a*`` logging
methods (``await log.ainfo(...)``), which native-sync never calls: asyncio
and what it pulls in (ssl, selectors, concurrent.futures, ...) cost about
7 MB of RSS in each of ``run``, the fsmonitor and the watchdog.  Until
something touches it, ``asyncio`` is a stand-in module; its first attribute
access imports the real one and forwards to it, so nothing breaks if a
library does use it.  Imported by ``engine/__init__.py``, before anything
imports structlog.
"""

from __future__ import annotations

import importlib
import sys
import types

LAZY = ("asyncio",)


class _Deferred(types.ModuleType):
    """A module imported on first use: attribute access loads and forwards to the real one."""

    def __getattr__(self, name: str) -> object:
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), name)


def defer(names: tuple[str, ...] = LAZY) -> None:
    """Stand in for each module of ``names`` that is not imported yet."""
    for name in names:
        if name not in sys.modules:
            sys.modules[name] = _Deferred(name)
