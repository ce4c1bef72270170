"""Gives memory the operator no longer uses back to the system when its work queue runs dry.

A restart held a kopf task for every stored object at once (before the children had their own
watches, handlers/informers); once they were done, their memory was free inside the process,
but glibc's allocator kept the pages mapped: at N=342 the operator stayed at its 941 MB restart
peak, 2.3 times its steady 404 MB (bench/README.md). A restart still makes a pass per
installation in a burst. `malloc_trim(0)` returns free pages at the top of every heap and the free
pages inside them. It walks the free lists, so it runs when the work queue goes idle (not in
a pass), at most once per MIN_INTERVAL_SECONDS. Where the C library has no malloc_trim (musl),
nothing is done.
"""

from __future__ import annotations

import ctypes
import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

MIN_INTERVAL_SECONDS = 60.0

Trim = Callable[[], object]


def _libc_trim() -> Trim | None:
    """glibc's malloc_trim(0), or None without it (the interpreter's own symbols include the
    C library it runs on: no search for the library)."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return lambda: trim(0)


class HeapRelease:
    """Calls `trim` when asked, at most once per `interval` seconds."""

    def __init__(
        self,
        trim: Trim | None,
        interval: float = MIN_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._trim = trim
        self._interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._last: float | None = None

    def __call__(self) -> None:
        """The work queue went idle: give freed memory back, unless that was done recently."""
        if self._trim is None:
            return
        now = self._clock()
        with self._lock:
            if self._last is not None and now - self._last < self._interval:
                return
            self._last = now
        started = time.monotonic()
        self._trim()
        log.debug("gave freed memory back in %.3f s", time.monotonic() - started)


RELEASE = HeapRelease(_libc_trim())
