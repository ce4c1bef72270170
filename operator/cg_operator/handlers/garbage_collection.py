"""Keeps the interpreter's full garbage collections short, and measures every collection.

The operator keeps a copy of every object it watches (handlers/observed, handlers/informers):
at N=342 several million long-lived Python objects. A full (generation 2) collection walked all
of them while holding the interpreter lock, so every reconcile pass stopped for it: 0.45 to
0.59 s at 200 tenants, 0.86 to 0.93 s at 342, the slowest edits in the latency benchmark, and
after a restart at N=342 25 of them took 19 of its 76 CPU seconds (README.md, "The
national-scale benchmark").

`gc.freeze()` moves every object the collector tracks into a permanent generation that no
collection walks; reference counting still frees a frozen object when its last reference goes.
Right after a full collection every tracked object is alive, so freezing then costs no walk of
its own: each full collection freezes its survivors, and the next one walks only what was
created since. The interpreter starts a full collection when a quarter more objects than the
last one kept have lived long enough, so they come often and stay short.

Only cyclic garbage among frozen objects is never collected. So the freeze is renewed:
unfreeze, collect everything once (the one long pause), freeze the survivors. That is done when
the work queue runs dry (never inside a pass): the first time it does after start-up (a
restart's task per object has ended then), then once the frozen objects have grown by a quarter
since the last renewal (the fleet grew, or frozen garbage did) but not within MIN_SECONDS of
it, and at least every MAX_SECONDS.

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
GROWTH = 1.25


def renew_due(
    now: float,
    last: float | None,
    frozen: int,
    frozen_then: int,
    *,
    least: float = MIN_SECONDS,
    most: float = MAX_SECONDS,
) -> bool:
    """Whether to renew the freeze at an idle moment: never done yet; or the frozen objects
    grew by a quarter since the last renewal, `least` seconds ago or more; or `most` seconds
    have passed."""
    if last is None:
        return True
    waited = now - last
    return waited >= most or (waited >= least and frozen >= frozen_then * GROWTH)


class Refreeze:
    """Unfreezes, collects and freezes again when asked and `renew_due` says so."""

    def __init__(
        self,
        least: float = MIN_SECONDS,
        most: float = MAX_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._least, self._most = least, most
        self._clock = clock
        self._lock = threading.Lock()
        self._last: float | None = None
        self._frozen_then = 0

    def __call__(self) -> None:
        """The work queue went idle: renew the freeze if it is due."""
        now = self._clock()
        with self._lock:
            frozen = gc.get_freeze_count()
            due = renew_due(
                now, self._last, frozen, self._frozen_then, least=self._least, most=self._most
            )
            if not due:
                return
            self._last = now
            started = time.monotonic()
            gc.unfreeze()
            unreachable = gc.collect()
            gc.freeze()
            self._frozen_then = gc.get_freeze_count()
        log.debug(
            "froze %d objects after collecting %d in %.3f s",
            self._frozen_then,
            unreachable,
            time.monotonic() - started,
        )


def freeze_survivors(phase: str, info: dict[str, Any]) -> None:
    """A gc.callbacks callback: after a full collection, freeze what it kept (all of it is
    alive, and the next full collection need not walk it again). Called once the collection
    is done, before the interpreter frees or collects anything else."""
    if phase == "stop" and info.get("generation") == 2:
        gc.freeze()


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
    """Time every collection, and freeze each full collection's survivors, from now on
    (idempotent)."""
    for callback in (_TIMER, freeze_survivors):
        if callback not in gc.callbacks:
            gc.callbacks.append(callback)
    metrics.GC_FROZEN.set_function(lambda: float(gc.get_freeze_count()))
