"""A coalescing work queue: events only name what to reconcile; a few worker threads do it.

However many events arrive for one object (a Deployment's status moves five times while it
rolls out), the object is reconciled once with the latest observed state, never twice at the
same time, and again afterwards only if something arrived while it ran. A failed pass is
retried with backoff. This keeps kopf's event handlers instant and the work proportional to
objects changed, not to events.

A summary (a tenant's components, a catalogue entry's adoption) is asked for by every change of
the objects it sums up. Those asks may be delayed (`add(..., delay=...)`): every ask within the
delay joins one pass, so a tenant whose eleven installations become Ready one after another
writes its status a few times instead of eleven. A delayed ask never postpones a pass already
due, one due sooner brings a later one forward, and an immediate ask overtakes it. Failed passes
are retried the same way.

At start-up kopf delivers one event per stored object, kind by kind: a child's event would
reconcile its installation again after the installation's own event already had. So the
operator's queue can hold its first passes until a readiness check says every start-up event
has been delivered (`hold_at_startup`; the operator's check is in handlers/startup_gate.py):
after a restart each object is then reconciled once, with everything already seen.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from typing import Any

from cg_operator import metrics
from cg_operator.api.kinds import BY_PLURAL

log = logging.getLogger(__name__)

Reconcile = Callable[[Hashable, Mapping[str, Any]], None]
BACKOFF_SECONDS = (1, 2, 5, 10, 30, 60)
StartupCheck = Callable[[Mapping[str, Any]], bool]
# Told of every failed pass: (key, failed passes in a row, the error).
FailureReporter = Callable[[Hashable, int, Exception], None]
# Whether this process runs a key's pass: (key, context) -> bool.
Gate = Callable[[Hashable, Mapping[str, Any]], bool]
# How often a held queue asks its start-up check.
STARTUP_CHECK_SECONDS = 0.2
# How long a summary (a tenant's status, a catalogue entry's adoption) gathers the changes of
# the objects it sums up before its pass: at most this much later than without the delay.
SUMMARY_DELAY_SECONDS = 2.0
# How long an installation gathers its children's changes (a workload's rollout takes several
# steps: created, progressing, available) before its pass and status write.
PROGRESS_DELAY_SECONDS = 1.0


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
        # Delayed asks: key -> (due, reconcile), and a heap of (due, order, key) to find the
        # next one due; a heap entry whose due no longer matches the key's is stale.
        self._delayed: dict[Hashable, tuple[float, Reconcile]] = {}
        self._due: list[tuple[float, int, Hashable]] = []
        self._order = itertools.count()
        self._failures: dict[Hashable, int] = {}
        self._context: Mapping[str, Any] = {}
        self._threads: list[threading.Thread] = []
        self._passes = 0
        self._reconcilers: dict[Hashable, Reconcile] = {}
        self._report_failure: FailureReporter | None = None
        self._on_idle: Callable[[], None] | None = None
        self._gate: Gate | None = None
        self._awaiting_ends = 0  # threads in wait_until_none_running

    def set_failure_reporter(self, report: FailureReporter | None) -> None:
        """Who hears of failed passes (the operator surfaces repeated ones on the object)."""
        self._report_failure = report

    def set_idle_hook(self, hook: Callable[[], None] | None) -> None:
        """Called (outside the queue's lock, from the worker that finished) each time the queue
        runs dry: the operator gives freed memory back then (handlers/heap_release)."""
        self._on_idle = hook

    def set_gate(self, gate: Gate | None) -> None:
        """Run a key's pass only when `gate(key, context)` says so (a sharded operator runs
        only its own: handlers/shards); a refused key is dropped, not retried."""
        self._gate = gate

    def wait_until_none_running(self, matches: Callable[[Hashable], bool], timeout: float) -> bool:
        """Block until no running pass's key `matches` (another worker's pass ends); False
        after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._awaiting_ends += 1
            try:
                while any(matches(k) for k in self._active):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    self._cond.wait(left)
            finally:
                self._awaiting_ends -= 1
        return True

    def add(
        self,
        key: Hashable,
        reconcile: Reconcile,
        context: Mapping[str, Any],
        *,
        delay: float = 0.0,
    ) -> None:
        """Ask for a pass over key; `context` carries kopf's indexes (the latest wins). With a
        delay the pass starts no later than `delay` seconds from now, together with every other
        ask for key in between."""
        with self._cond:
            if self._first_add is None:
                self._first_add = time.monotonic()
            self._context = context
            self._reconcilers[key] = reconcile
            if delay > 0:
                self._add_delayed(key, reconcile, delay)
            else:
                self._delayed.pop(key, None)
                self._enqueue(key, reconcile)
            self._start()
            self._cond.notify()

    def _add_delayed(self, key: Hashable, reconcile: Reconcile, delay: float) -> None:
        if key in self._pending or key in self._again:
            return  # a pass is due already; it will see this change too
        due = time.monotonic() + delay
        if key in self._delayed:
            # The earlier of the two: a pass put off for a while (a status write held back for
            # its window) is brought forward by an ask that wants it sooner.
            earlier, _ = self._delayed[key]
            if earlier <= due:
                self._delayed[key] = (earlier, reconcile)
                return
        self._delayed[key] = (due, reconcile)
        heapq.heappush(self._due, (due, next(self._order), key))

    def _enqueue(self, key: Hashable, reconcile: Reconcile) -> None:
        if key in self._active:
            self._again[key] = reconcile
        elif key not in self._pending:
            self._pending[key] = reconcile

    def _promote_due(self) -> float | None:
        """Move the delayed asks that are due to the pending ones; when the next is due."""
        now, promoted = time.monotonic(), False
        next_due = None
        while self._due:
            due, _, key = self._due[0]
            delayed = self._delayed.get(key)
            if delayed is None or delayed[0] != due:
                heapq.heappop(self._due)  # stale: overtaken by an immediate ask
                continue
            if due > now:
                next_due = due
                break
            heapq.heappop(self._due)
            del self._delayed[key]
            self._enqueue(key, delayed[1])
            promoted = True
        if promoted:
            self._cond.notify_all()  # the other workers may take the rest
        return next_due

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
        """Keys waiting for a pass, now or after a delay."""
        with self._cond:
            return len(self._pending) + len(self._delayed)

    def idle(self) -> bool:
        """Nothing pending, delayed or running (for tests and the benchmark)."""
        with self._cond:
            return self._idle()

    def _idle(self) -> bool:
        return not self._pending and not self._active and not self._delayed

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
            next_due = self._promote_due()
            if not self._settled and not self._startup_done():
                self._cond.wait(STARTUP_CHECK_SECONDS)
                continue
            if self._pending:
                return
            self._cond.wait(None if next_due is None else max(0.0, next_due - time.monotonic()))

    def _start(self) -> None:
        while len(self._threads) < self._workers:
            thread = threading.Thread(
                target=self._work, name=f"reconcile-{len(self._threads)}", daemon=True
            )
            self._threads.append(thread)
            thread.start()

    def _tell_failure(self, key: Hashable, failures: int, error: Exception) -> None:
        if self._report_failure is not None:
            _never_raises(self._report_failure, key, failures, error)

    def _work(self) -> None:
        while True:
            with self._cond:
                self._wait_for_work()
                key, reconcile = self._pending.popitem(last=False)
                self._active.add(key)
                context = self._context
            kind = _kind_of(key)
            started = time.monotonic()
            ran = False
            try:
                if self._gate is None or self._gate(key, context):
                    ran = True
                    reconcile(key, context)
                self._failures.pop(key, None)
            except Exception as error:  # a pass must never kill its worker
                metrics.RECONCILE_ERRORS.labels(kind).inc()
                failures = self._failures.get(key, 0)
                self._failures[key] = failures + 1
                delay = BACKOFF_SECONDS[min(failures, len(BACKOFF_SECONDS) - 1)]
                log.exception("reconcile of %s failed; retrying in %ss", key, delay)
                self._tell_failure(key, failures + 1, error)
                with self._cond:
                    self._add_delayed(key, reconcile, delay)
            finally:
                if ran:  # a pass another shard owns is no pass of this one
                    metrics.RECONCILE_TOTAL.labels(kind).inc()
                    metrics.RECONCILE_DURATION.labels(kind).observe(time.monotonic() - started)
                with self._cond:
                    self._active.discard(key)
                    if self._awaiting_ends:
                        self._cond.notify_all()
                    self._passes += ran
                    again = self._again.pop(key, None)
                    if again is not None and key not in self._pending:
                        self._pending[key] = again
                        self._cond.notify()
                    idle = self._idle()
                    if idle:
                        log.info("work queue idle after %d reconcile passes", self._passes)
                        self._passes = 0
                if idle and self._on_idle is not None:
                    try:
                        self._on_idle()
                    except Exception:  # a hook must never kill its worker
                        log.exception("the work queue's idle hook failed")


KINDS = {plural: kind.kind for plural, kind in BY_PLURAL.items()}


def _never_raises(report: FailureReporter, key: Hashable, failures: int, error: Exception) -> None:
    try:
        report(key, failures, error)
    except Exception:  # reporting must not turn one failure into a dead worker
        log.exception("could not report the failure of %s", key)


def _kind_of(key: Hashable) -> str:
    """The kind label of a queue key (plural, [namespace,] name)."""
    plural = key[0] if isinstance(key, tuple) and key else ""
    return KINDS.get(str(plural), "other")


QUEUE = WorkQueue()
