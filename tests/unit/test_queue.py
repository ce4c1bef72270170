"""The work queue coalesces events per object and never runs one object twice at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Hashable, Mapping
from typing import Any

from cg_operator.handlers.queue import STARTUP_CHECK_SECONDS, WorkQueue
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


def test_start_up_passes_are_held_until_the_check_passes_then_each_object_runs_once() -> None:
    # A restart: kopf delivers the installations' events, then their children's, which name the
    # same installations again. Held until every start-up event is in, each object runs once.
    queue = WorkQueue(workers=2)
    delivered = threading.Event()
    queue.hold_at_startup(lambda context: delivered.is_set() and context["indexes"], 30)
    runs, reconcile = _recorder()
    for _ in range(4):  # the events of four kinds
        for key in ("a", "b", "c"):
            queue.add(key, reconcile, {"indexes": True})
    time.sleep(0.5)  # more than two checks: nothing may run while events are still missing
    assert runs == [], "nothing runs before every start-up event is in"
    assert not queue.settled()
    delivered.set()
    wait_for("the held passes", lambda: len(runs) == 3, timeout=5, interval=0.02)
    assert sorted(runs) == ["a", "b", "c"]
    assert queue.settled()
    queue.add("a", reconcile, {"indexes": True})  # after start-up an event is reconciled at once
    wait_for("the next pass", lambda: len(runs) == 4, timeout=5, interval=0.01)
    wait_for("the queue to drain", queue.idle, timeout=5, interval=0.01)
    assert sorted(runs) == ["a", "a", "b", "c"]


def test_the_start_up_hold_ends_after_max_seconds_or_when_the_check_fails() -> None:
    queue = WorkQueue(workers=1)
    queue.hold_at_startup(lambda _context: False, 0.4)  # an object deleted before its event
    runs, reconcile = _recorder()
    started = time.monotonic()
    queue.add("never-complete", reconcile, {})
    wait_for("the pass after the hold", lambda: runs == ["never-complete"], timeout=5)
    assert time.monotonic() - started >= 0.35

    def broken(_context: Mapping[str, Any]) -> bool:
        raise KeyError("catalogue_index")

    failing = WorkQueue(workers=1)
    failing.hold_at_startup(broken, 60)
    failing.add("x", reconcile, {})
    wait_for("the pass despite a failing check", lambda: "x" in runs, timeout=5)


def test_a_held_queue_asks_its_check_at_most_every_check_interval() -> None:
    # Every add wakes a worker; the check (it counts kopf's indexes) must not run per event.
    queue = WorkQueue(workers=4)
    calls: list[float] = []

    def check(_context: Mapping[str, Any]) -> bool:
        calls.append(time.monotonic())
        return False

    queue.hold_at_startup(check, 30)
    runs, reconcile = _recorder()
    started = time.monotonic()
    for i in range(3000):
        queue.add(f"object-{i % 500}", reconcile, {})
    elapsed = time.monotonic() - started
    assert runs == []
    assert len(calls) <= elapsed / STARTUP_CHECK_SECONDS + 2, (len(calls), elapsed)


def _timed_recorder() -> tuple[list[tuple[Hashable, float]], Any]:
    runs: list[tuple[Hashable, float]] = []

    def reconcile(key: Hashable, _context: Mapping[str, Any]) -> None:
        runs.append((key, time.monotonic()))

    return runs, reconcile


def test_delayed_asks_for_a_summary_join_one_pass_after_the_delay() -> None:
    # Eleven installations of one tenant become Ready one after another: one tenant pass.
    queue = WorkQueue(workers=2)
    runs, reconcile = _timed_recorder()
    first = time.monotonic()
    for _ in range(11):
        queue.add("tenant", reconcile, {}, delay=0.3)
    assert queue.depth() == 1, "a delayed ask waits in the queue"
    wait_for("the summary pass", queue.idle, timeout=5, interval=0.01)
    assert [key for key, _ in runs] == ["tenant"]
    assert runs[0][1] - first >= 0.3, "the pass waited for the delay to gather changes"


def test_a_delayed_ask_never_postpones_a_pass_already_due() -> None:
    queue = WorkQueue(workers=1)
    runs, reconcile = _timed_recorder()
    first = time.monotonic()
    queue.add("tenant", reconcile, {}, delay=0.2)
    for _ in range(5):
        queue.add("tenant", reconcile, {}, delay=30)
    wait_for("the first ask's pass", lambda: len(runs) > 0, timeout=5, interval=0.01)
    assert runs[0][1] - first < 10, "the later asks' longer delay did not move the pass"
    assert queue.idle()


def test_a_sooner_delayed_ask_brings_a_later_pass_forward() -> None:
    # A status write held back for its window (30 s here) and then a child's event (its
    # workload became available): the pass runs after the child's short delay, once.
    queue = WorkQueue(workers=1)
    runs, reconcile = _timed_recorder()
    first = time.monotonic()
    queue.add("installation", reconcile, {}, delay=30)
    queue.add("installation", reconcile, {}, delay=0.2)
    wait_for("the sooner ask's pass", lambda: len(runs) > 0, timeout=5, interval=0.01)
    assert 0.2 <= runs[0][1] - first < 10
    wait_for("the queue idle", queue.idle, timeout=5, interval=0.01)
    assert [key for key, _ in runs] == ["installation"], "the later due time was dropped"


def test_an_immediate_ask_overtakes_a_delayed_one_and_runs_once() -> None:
    queue = WorkQueue(workers=1)
    runs, reconcile = _timed_recorder()
    queue.add("tenant", reconcile, {}, delay=30)
    queue.add("tenant", reconcile, {})  # the tenant's own spec changed
    wait_for("the immediate pass", queue.idle, timeout=5, interval=0.01)
    assert [key for key, _ in runs] == ["tenant"]


def test_a_delayed_ask_while_the_object_runs_makes_one_more_pass_later() -> None:
    queue = WorkQueue(workers=2)
    started, release = threading.Event(), threading.Event()
    runs: list[Hashable] = []

    def reconcile(key: Hashable, _context: Mapping[str, Any]) -> None:
        runs.append(key)
        started.set()
        release.wait(5)

    queue.add("tenant", reconcile, {})
    assert started.wait(5)
    for _ in range(3):  # the running pass may have read the state before these changes
        queue.add("tenant", reconcile, {}, delay=0.1)
    release.set()
    wait_for("the queue to drain", queue.idle, timeout=5, interval=0.01)
    assert runs == ["tenant", "tenant"]


def test_many_keys_due_at_once_are_shared_by_the_workers() -> None:
    queue = WorkQueue(workers=4)
    running: set[Hashable] = set()
    most = [0]
    lock = threading.Lock()
    all_in = threading.Barrier(4, timeout=5)

    def reconcile(key: Hashable, _context: Mapping[str, Any]) -> None:
        with lock:
            running.add(key)
            most[0] = max(most[0], len(running))
        all_in.wait()  # each of the four waits until all four run at once
        with lock:
            running.discard(key)

    for i in range(4):
        queue.add(f"tenant-{i}", reconcile, {}, delay=0.1)
    wait_for("the four passes", queue.idle, timeout=10, interval=0.01)
    assert most[0] == 4, "every worker took one of the keys that fell due together"


def test_every_failed_pass_is_reported_with_the_count_in_a_row_and_a_success_resets_it() -> None:
    queue = WorkQueue(workers=1)
    heard: list[tuple[Hashable, int, str]] = []
    outcomes = [RuntimeError("one"), RuntimeError("two"), None, RuntimeError("three")]

    def flaky(_key: Hashable, _context: Mapping[str, Any]) -> None:
        outcome = outcomes.pop(0) if outcomes else None
        if outcome is not None:
            raise outcome

    queue.set_failure_reporter(lambda key, count, error: heard.append((key, count, str(error))))
    queue.add("c", flaky, {})
    wait_for("two failures and a success", lambda: len(outcomes) == 1, timeout=10, interval=0.05)
    queue.add("c", flaky, {})
    wait_for("the third failure", lambda: len(heard) == 3, timeout=10, interval=0.05)
    assert heard == [("c", 1, "one"), ("c", 2, "two"), ("c", 1, "three")]


def test_a_reporter_that_fails_never_stops_the_queue() -> None:
    queue = WorkQueue(workers=1)
    attempts: list[int] = []

    def failing(_key: Hashable, _context: Mapping[str, Any]) -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("first pass fails")

    def broken_reporter(_key: Hashable, _count: int, _error: Exception) -> None:
        raise ConnectionError("the API server is away")

    queue.set_failure_reporter(broken_reporter)
    queue.add("d", failing, {})
    wait_for("the retry despite the reporter", lambda: len(attempts) >= 2, timeout=5)
