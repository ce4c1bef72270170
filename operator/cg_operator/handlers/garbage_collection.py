"""Keeps the interpreter's full garbage collections short, and measures every collection.

The operator keeps a copy of every object it watches (kopf's indexes, handlers/kept_watch):
at N=342 several million long-lived Python objects. A full (generation 2) collection walks all
of them while holding the interpreter lock, so every reconcile pass stops for it: 0.45 to
0.59 s at 200 tenants, 0.86 to 0.93 s at 342 (bench/README.md), and the slowest edits in the
latency benchmark were the ones that met one.

`gc.freeze()` moves every object alive at that moment into a permanent generation that no
collection walks; reference counting still frees a frozen object when its last reference goes.
Only cyclic garbage among frozen objects waits for the freeze to be renewed: unfreeze, collect
everything once (the one long pause), freeze the survivors. That is done when the work queue
runs dry (never inside a pass): the first time it does after start-up, when the stored objects
are in; again once a full collection has run since the last renewal, which the interpreter
starts only when the objects created since have grown by a quarter of those it last counted
(so the fleet has grown, or garbage has), but not within MIN_SECONDS of the last; and at least
every MAX_SECONDS. Automatic collections in between walk only what was created since.

Every collection's pause is exported as `cg_gc_pause_seconds{generation}` (gc.callbacks), so
a platform team sees the pauses that reach its reconcile latency.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from cg_operator import metrics

log = logging.getLogger(__name__)

MIN_SECONDS = 60.0
MAX_SECONDS = 3600.0


def renew_due(
    now: float, last: float | None, full_collections_since: int, *, least: float, most: float
) -> bool:
    """Whether to renew the freeze at an idle moment: never done yet; or a full collection ran
    since the last renewal, `least` seconds ago or more; or `most` seconds have passed."""
    if last is None:
        return True
    waited = now - last
    return waited >= most or (full_collections_since > 0 and waited >= least)


class Refreeze:
    """Unfreezes, collects and freezes again when asked and `renew_due` says so."""

    def __init__(
        self,
        least: float = MIN_SECONDS,
        most: float = MAX_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        full_collections: Callable[[], int] = lambda: metrics.GC_PAUSE.count(2),
    ) -> None:
        self._least, self._most = least, most
        self._clock = clock
        self._full_collections = full_collections
        self._lock = threading.Lock()
        self._last: float | None = None
        self._collections_then = 0

    def __call__(self) -> None:
        """The work queue went idle: renew the freeze if it is due."""
        now = self._clock()
        with self._lock:
            since = self._full_collections() - self._collections_then
            if not renew_due(now, self._last, since, least=self._least, most=self._most):
                return
            self._last = now
            started = time.monotonic()
            gc.unfreeze()
            unreachable = gc.collect()
            gc.freeze()
            self._collections_then = self._full_collections()  # its own collection included
        log.debug(
            "froze %d objects after collecting %d in %.3f s",
            gc.get_freeze_count(),
            unreachable,
            time.monotonic() - started,
        )


class PauseTimer:
    """A gc.callbacks callback that observes each collection's duration by generation.

    Collections never overlap (the interpreter lock, and gc's own guard against re-entry), so
    one start time is enough."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self._started: float | None = None

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = self._clock()
        elif phase == "stop" and self._started is not None:
            metrics.GC_PAUSE.observe(int(info.get("generation", -1)), self._clock() - self._started)
            self._started = None


REFREEZE = Refreeze()
_TIMER = PauseTimer()


def install() -> None:
    """Time every collection from now on (idempotent)."""
    if _TIMER not in gc.callbacks:
        gc.callbacks.append(_TIMER)
    metrics.GC_FROZEN.set_function(lambda: float(gc.get_freeze_count()))
