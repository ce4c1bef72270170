"""A coalescing work queue: events only name what to reconcile; a few worker threads do it.

However many events arrive for one object (a Deployment's status moves five times while it
rolls out), the object is reconciled once with the latest observed state, never twice at the
same time, and again afterwards only if something arrived while it ran. A failed pass is
retried with backoff. This keeps kopf's event handlers instant and the work proportional to
objects changed, not to events.

At start-up kopf delivers one event per stored object, kind by kind: a child's event would
reconcile its installation again after the installation's own event already had. So the
operator's queue can hold its first passes until a readiness check says every start-up event
has been delivered (`hold_at_startup`; the operator's check is in handlers/startup_gate.py):
after a restart each object is then reconciled once, with everything already seen.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from typing import Any

from cg_operator import metrics

log = logging.getLogger(__name__)

Reconcile = Callable[[Hashable, Mapping[str, Any]], None]
BACKOFF_SECONDS = (1, 2, 5, 10, 30, 60)
StartupCheck = Callable[[Mapping[str, Any]], bool]
# How often a held queue asks its start-up check.
STARTUP_CHECK_SECONDS = 0.2


class WorkQueue:
    """Keys to reconcile, each with the function that reconciles it."""

    def __init__(self, workers: int = 4) -> None:
        self._workers = workers
        self._startup_check: StartupCheck | None = None
        self._startup_max = 0.0
        self._first_add: float | None = None
        self._next_check = 0.0
        self._settled = True
        self._cond = threading.Condition()
        self._pending: OrderedDict[Hashable, Reconcile] = OrderedDict()
        self._active: set[Hashable] = set()
        self._again: dict[Hashable, Reconcile] = {}
        self._failures: dict[Hashable, int] = {}
        self._context: Mapping[str, Any] = {}
        self._threads: list[threading.Thread] = []
        self._passes = 0
        self._reconcilers: dict[Hashable, Reconcile] = {}

    def add(self, key: Hashable, reconcile: Reconcile, context: Mapping[str, Any]) -> None:
        """Ask for a pass over key; `context` carries kopf's indexes (the latest wins)."""
        with self._cond:
            if self._first_add is None:
                self._first_add = time.monotonic()
            self._context = context
            self._reconcilers[key] = reconcile
            if key in self._active:
                self._again[key] = reconcile
            elif key not in self._pending:
                self._pending[key] = reconcile
            self._start()
            self._cond.notify()

    def again(self, key: Hashable) -> None:
        """Ask for another pass over a key seen before, with the latest context (the prober
        uses this when a probe's outcome changes); unknown keys are ignored."""
        with self._cond:
            reconcile, context = self._reconcilers.get(key), self._context
        if reconcile is not None:
            self.add(key, reconcile, context)

    def forget(self, key: Hashable) -> None:
        """Drop what is remembered about a key whose object is gone."""
        with self._cond:
            self._reconcilers.pop(key, None)

    def context(self) -> Mapping[str, Any]:
        """The latest kopf context (its indexes), for the state metrics."""
        with self._cond:
            return self._context

    def depth(self) -> int:
        """Keys waiting for a pass."""
        with self._cond:
            return len(self._pending)

    def idle(self) -> bool:
        """Nothing pending or running (for tests and the benchmark)."""
        with self._cond:
            return not self._pending and not self._active

    def hold_at_startup(self, check: StartupCheck, max_seconds: float) -> None:
        """Hold the first passes until `check(context)` is true, at most `max_seconds` after the
        first key arrives. Call before anything is added."""
        with self._cond:
            self._startup_check, self._startup_max = check, max_seconds
            self._settled = False

    def settled(self) -> bool:
        """Whether the start-up hold is over (passes run as keys arrive)."""
        with self._cond:
            return self._settled

    def _startup_done(self) -> bool:
        started = self._first_add if self._first_add is not None else time.monotonic()
        waited = time.monotonic() - started
        check = self._startup_check
        if check is not None and waited < self._startup_max:
            now = time.monotonic()
            if now < self._next_check:  # every add wakes a worker; ask at most every 0.2 s
                return False
            self._next_check = now + STARTUP_CHECK_SECONDS
            try:
                if not check(self._context):
                    return False
            except Exception:  # a failing check must not hold the operator forever
                log.exception("start-up check failed; starting the passes")
        self._settled = True
        log.info(
            "start-up events delivered after %.1f s: %d objects to reconcile",
            waited,
            len(self._pending),
        )
        self._cond.notify_all()
        return True

    def _wait_for_work(self) -> None:
        """Block (holding the condition's lock) until a key may be taken."""
        while True:
            if not self._settled and not self._startup_done():
                self._cond.wait(STARTUP_CHECK_SECONDS)
                continue
            if self._pending:
                return
            self._cond.wait()

    def _start(self) -> None:
        while len(self._threads) < self._workers:
            thread = threading.Thread(
                target=self._work, name=f"reconcile-{len(self._threads)}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def _work(self) -> None:
        while True:
            with self._cond:
                self._wait_for_work()
                key, reconcile = self._pending.popitem(last=False)
                self._active.add(key)
                context = self._context
            kind = _kind_of(key)
            started = time.monotonic()
            try:
                reconcile(key, context)
                self._failures.pop(key, None)
            except Exception:  # a pass must never kill its worker
                metrics.RECONCILE_ERRORS.labels(kind).inc()
                failures = self._failures.get(key, 0)
                self._failures[key] = failures + 1
                delay = BACKOFF_SECONDS[min(failures, len(BACKOFF_SECONDS) - 1)]
                log.exception("reconcile of %s failed; retrying in %ss", key, delay)
                timer = threading.Timer(delay, self.add, (key, reconcile, context))
                timer.daemon = True
                timer.start()
            finally:
                metrics.RECONCILE_TOTAL.labels(kind).inc()
                metrics.RECONCILE_DURATION.labels(kind).observe(time.monotonic() - started)
                with self._cond:
                    self._active.discard(key)
                    self._passes += 1
                    again = self._again.pop(key, None)
                    if again is not None and key not in self._pending:
                        self._pending[key] = again
                        self._cond.notify()
                    if not self._pending and not self._active:
                        log.info("work queue idle after %d reconcile passes", self._passes)
                        self._passes = 0


KINDS = {
    "cgcomponents": "CGComponent",
    "municipalitytenants": "MunicipalityTenant",
    "componentinstallations": "ComponentInstallation",
    "componentrollouts": "ComponentRollout",
}


def _kind_of(key: Hashable) -> str:
    """The kind label of a queue key (plural, [namespace,] name)."""
    plural = key[0] if isinstance(key, tuple) and key else ""
    return KINDS.get(str(plural), "other")


QUEUE = WorkQueue()
