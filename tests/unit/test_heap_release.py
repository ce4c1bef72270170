"""Freed memory is given back when the work queue runs dry, at most once a minute, and a C
library without malloc_trim makes it a no-op."""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from cg_operator.handlers import heap_release
from cg_operator.handlers.heap_release import HeapRelease
from cg_operator.handlers.queue import WorkQueue
from tests.support.clock import Clock
from tests.support.cluster import wait_for


def test_trims_at_most_once_per_interval() -> None:
    calls: list[float] = []
    clock = Clock()
    release = HeapRelease(lambda: calls.append(clock.now), interval=60, clock=clock)
    release()
    clock.now += 59
    release()
    assert calls == [100.0]
    clock.now += 1
    release()
    assert calls == [100.0, 160.0]


def test_without_malloc_trim_nothing_is_done() -> None:
    HeapRelease(None)()  # no trim function: returns, raises nothing


def test_this_machines_libc_trim_runs() -> None:
    trim = heap_release._libc_trim()
    assert trim is not None, "glibc has malloc_trim"
    assert trim() in (0, 1)


def test_the_queue_calls_its_idle_hook_when_it_runs_dry() -> None:
    queue = WorkQueue(workers=1)
    ran: list[Hashable] = []
    went_idle: list[int] = []
    queue.set_idle_hook(lambda: went_idle.append(len(ran)))

    def reconcile(key: Hashable, _context: Mapping[str, Any]) -> None:
        ran.append(key)

    queue.add("a", reconcile, {})
    wait_for("the hook", lambda: bool(went_idle), timeout=5, interval=0.01)
    assert went_idle == [1], "called once, after the pass"


def test_a_failing_idle_hook_does_not_stop_the_queue() -> None:
    queue = WorkQueue(workers=1)
    ran: list[Hashable] = []

    def broken() -> None:
        raise RuntimeError("no libc")

    queue.set_idle_hook(broken)
    queue.add("a", lambda key, _context: ran.append(key), {})
    wait_for("the first pass", lambda: ran == ["a"], timeout=5, interval=0.01)
    queue.add("b", lambda key, _context: ran.append(key), {})
    wait_for("a pass after the hook failed", lambda: ran == ["a", "b"], timeout=5, interval=0.01)
