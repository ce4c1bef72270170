"""The work queue coalesces events per object and never runs one object twice at once."""

from __future__ import annotations

import threading
from collections.abc import Hashable, Mapping
from typing import Any

from cg_operator.handlers.queue import WorkQueue
from tests.support.cluster import wait_for


def test_events_for_a_busy_object_coalesce_into_one_more_pass() -> None:
    queue = WorkQueue(workers=2)
    started, release = threading.Event(), threading.Event()
    runs: list[Hashable] = []
    running: set[Hashable] = set()
    overlap: list[Hashable] = []

    def reconcile(key: Hashable, _context: Mapping[str, Any]) -> None:
        if key in running:
            overlap.append(key)
        running.add(key)
        runs.append(key)
        started.set()
        release.wait(5)
        running.discard(key)

    queue.add("a", reconcile, {})
    assert started.wait(5)
    for _ in range(10):
        queue.add("a", reconcile, {})
    release.set()
    wait_for("the queue to drain", queue.idle, timeout=5, interval=0.01)
    assert runs == ["a", "a"], "ten events while busy make exactly one more pass"
    assert overlap == []


def test_a_failing_pass_is_retried() -> None:
    queue = WorkQueue(workers=1)
    attempts: list[int] = []

    def flaky(_key: Hashable, _context: Mapping[str, Any]) -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("API server said 500")

    queue.add("b", flaky, {})
    wait_for("the retry", lambda: len(attempts) >= 2, timeout=5, interval=0.05)
