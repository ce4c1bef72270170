"""The work queue coalesces events per object and never runs one object twice at once."""

from __future__ import annotations

import threading
import time
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


def _recorder() -> tuple[list[Hashable], Any]:
    runs: list[Hashable] = []

    def reconcile(key: Hashable, _context: Mapping[str, Any]) -> None:
        runs.append(key)

    return runs, reconcile


def test_start_up_events_are_held_until_quiet_then_each_object_runs_once() -> None:
    # A restart: kopf delivers the installations' events, then their children's, which name the
    # same installations again. Held until the stream is quiet, each object gets one pass.
    queue = WorkQueue(workers=2, startup_quiet=0.3, startup_max=30)
    runs, reconcile = _recorder()
    for _ in range(4):  # four kinds of events, 0.1 s apart: never quiet for 0.3 s
        for key in ("a", "b", "c"):
            queue.add(key, reconcile, {})
        time.sleep(0.1)  # the pace of the event stream, not a wait for an outcome
    assert runs == [], "nothing runs while start-up events still arrive"
    assert not queue.settled()
    wait_for("the held passes", lambda: len(runs) == 3, timeout=5, interval=0.02)
    assert sorted(runs) == ["a", "b", "c"]
    assert queue.settled()
    queue.add("a", reconcile, {})  # after start-up an event is reconciled at once
    wait_for("the next pass", lambda: len(runs) == 4, timeout=5, interval=0.01)
    wait_for("the queue to drain", queue.idle, timeout=5, interval=0.01)
    assert sorted(runs) == ["a", "a", "b", "c"]


def test_a_stream_that_never_goes_quiet_is_held_at_most_startup_max() -> None:
    queue = WorkQueue(workers=1, startup_quiet=1.0, startup_max=0.4)
    runs, reconcile = _recorder()
    started = time.monotonic()
    while not runs and time.monotonic() - started < 5:
        queue.add("busy", reconcile, {})
        time.sleep(0.05)  # events keep arriving faster than the quiet period
    assert runs == ["busy"]
    assert 0.35 <= time.monotonic() - started < 2.0
