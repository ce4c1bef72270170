"""The leader Lease on the real API server: one holder at a time, handed over at once on a
clean stop, taken after expiry from a holder that stopped renewing, and a holder that can no
longer renew is told to stop (the operator then exits: handlers/leadership.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from kubernetes import client

from cg_operator.k8s.election import ElectionTiming
from cg_operator.k8s.lease import Lease
from tests.support.cluster import Cluster, get_json, wait_for

# Short durations so that expiry happens within the test; the operator's defaults are longer.
TIMING = ElectionTiming(lease_duration=3, renew_deadline=2, retry_period=1)
LEASE = "cg-election-test"


@pytest.fixture
def candidates(namespace: str, api: client.ApiClient) -> Iterator[tuple[Lease, Lease]]:
    first = Lease(namespace, LEASE, "replica-a", TIMING, api)
    second = Lease(namespace, LEASE, "replica-b", TIMING, api)
    yield first, second
    first.release()
    second.release()


def _holder(cluster: Cluster, namespace: str) -> str:
    lease = get_json(cluster, "lease", LEASE, "-n", namespace)
    return str((lease.get("spec") or {}).get("holderIdentity") or "")


def _acquire_in_background(lease: Lease) -> tuple[threading.Thread, threading.Event, list[bool]]:
    stop, result = threading.Event(), []
    thread = threading.Thread(target=lambda: result.append(lease.acquire(stop)), daemon=True)
    thread.start()
    return thread, stop, result


def test_one_holder_at_a_time_and_a_clean_stop_hands_over(
    cluster: Cluster, namespace: str, candidates: tuple[Lease, Lease]
) -> None:
    first, second = candidates
    assert first.acquire(threading.Event())
    lost = threading.Event()
    first.keep(on_lost=lost.set)
    thread, stop, result = _acquire_in_background(second)
    # Several lease durations: the holder renews, so the standby never gets it.
    thread.join(timeout=3 * TIMING.lease_duration)
    assert thread.is_alive(), "the standby took a lease that was being renewed"
    assert _holder(cluster, namespace) == "replica-a"
    assert not lost.is_set(), "a renewing holder lost its lease"
    first.release()
    thread.join(timeout=2 * TIMING.retry_period + 5)
    assert result == [True]
    assert _holder(cluster, namespace) == "replica-b"
    stop.set()


def test_a_standby_stops_waiting_when_asked(candidates: tuple[Lease, Lease]) -> None:
    first, second = candidates
    assert first.acquire(threading.Event())
    first.keep(on_lost=lambda: None)
    thread, stop, result = _acquire_in_background(second)
    stop.set()
    thread.join(timeout=TIMING.retry_period + 5)
    assert result == [False]


def test_a_lease_nobody_renews_is_taken_and_its_holder_told_to_stop(
    cluster: Cluster, namespace: str, candidates: tuple[Lease, Lease]
) -> None:
    first, second = candidates
    assert first.acquire(threading.Event())
    # The holder does not renew (as if frozen or cut off): after the lease duration the
    # standby takes it.
    assert second.acquire(threading.Event())
    assert _holder(cluster, namespace) == "replica-b"
    second.keep(on_lost=lambda: None)
    # The first holder wakes up and tries to renew: it must find the lease gone and stop.
    lost = threading.Event()
    first.keep(on_lost=lost.set)
    wait_for("the old holder told it lost the lease", lost.is_set, timeout=15)
    assert _holder(cluster, namespace) == "replica-b"
