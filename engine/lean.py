"""Keep what no native-sync process uses out of its memory.

structlog imports :mod:`asyncio` at import time for its ``a*`` logging
methods (``await log.ainfo(...)``), which native-sync never calls: asyncio
and what it pulls in (ssl, selectors, concurrent.futures, ...) cost RSS in
every process.  Measured with psutil on a running engine (1k files, idle,
watchdog on; median of 3): the fsmonitor 18.7 MB with this, 24.7 MB without
(6.0 MB, a quarter of it, in every unison's helper); ``run`` 26.1 against
27.7 MB (1.6 MB: it imports much of asyncio's dependencies anyway).

``ssl`` is the other: :mod:`http.client` (under :mod:`xmlrpc.client`, which
``run`` uses to talk to supervisord over a unix socket) imports it for its
``HTTPSConnection``, which nothing here makes; OpenSSL's libraries cost
``run`` 4.1 MB of RSS (issue 26, imports alone: 25.5 -> 21.4 MB).  For the
same reason no module of a long-running process imports :mod:`hashlib`
(nor :mod:`secrets`, which does): 3.6 MB in the fsmonitor.  Until something
touches it, a module of :data:`LAZY` is a stand-in; its first attribute
access imports the real one and forwards to it, so nothing breaks if a
library does use it.  Imported by ``engine/__init__.py``, before anything
imports structlog.

A phase that builds large short-lived structures (the cold start's fast copy
keeps a few hundred bytes per file) leaves the heap grown after it frees
them: :func:`release` hands the free memory back to the system.
"""

from __future__ import annotations

import gc
import importlib
import sys
import types

LAZY = ("asyncio", "ssl")


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


def release() -> None:
    """Give the heap's free pages back to the system (glibc's ``malloc_trim``).

    Call once a phase has dropped its large structures; a no-op where the C
    library has no ``malloc_trim``.  ``ctypes`` is imported only here.
    """
    gc.collect()
    import ctypes

    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError):
        return
    trim(0)
