"""The collector's freeze is renewed when the work queue runs dry and the objects created since
have grown (a full collection ran) or an hour has passed, so cyclic garbage among frozen
objects is freed by the next renewal; and every collection's pause is exported."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest
from prometheus_client import generate_latest

from cg_operator import metrics
from cg_operator.handlers import garbage_collection
from cg_operator.handlers.garbage_collection import Refreeze, renew_due
from tests.support.clock import Clock


@pytest.fixture(autouse=True)
def _unfrozen() -> Iterator[None]:
    yield
    gc.unfreeze()


class _Cycle:
    """An object that refers to itself: only the collector frees it."""

    def __init__(self) -> None:
        self.me = self


@pytest.mark.parametrize(
    ("last", "full_collections_since", "due", "why"),
    [
        (None, 0, True, "never frozen: the first idle moment freezes"),
        (100.0, 0, False, "nothing has grown: a renewal's full collection would be wasted"),
        (100.0, 1, True, "grown by a quarter (a full collection ran), a minute ago"),
        (141.0, 1, False, "grown, but renewed less than a minute ago"),
        (-3500.0, 0, True, "an hour without a renewal"),
    ],
)
def test_renewal_is_due_after_growth_spaced_or_hourly(
    last: float | None, full_collections_since: int, due: bool, why: str
) -> None:
    assert renew_due(200.0, last, full_collections_since, least=60, most=3600) is due, why


def test_the_first_idle_freezes_what_is_alive() -> None:
    kept = [_Cycle() for _ in range(10)]
    Refreeze(clock=Clock())()
    assert gc.get_freeze_count() >= len(kept)


def test_frozen_cyclic_garbage_is_freed_by_the_renewal_after_growth() -> None:
    clock = Clock()
    collections = [0]
    refreeze = Refreeze(least=60, most=3600, clock=clock, full_collections=lambda: collections[0])
    cycle = _Cycle()
    alive = weakref.ref(cycle)
    refreeze()  # frozen while referenced
    del cycle
    gc.collect()
    assert alive() is not None, "a frozen cycle is not walked by collections"
    clock.now += 600
    refreeze()
    assert alive() is not None, "no growth since: no renewal"
    collections[0] += 1  # the interpreter ran a full collection: what is not frozen grew
    refreeze()
    assert alive() is None, "the renewal collects everything before it freezes again"


def _pause_count(generation: int) -> float:
    text = generate_latest(metrics.REGISTRY).decode()
    line = next(
        line
        for line in text.splitlines()
        if line.startswith(f'cg_gc_pause_seconds_count{{generation="{generation}"}}')
    )
    return float(line.rsplit(" ", 1)[1])


def test_every_collection_is_timed_by_generation() -> None:
    garbage_collection.install()
    garbage_collection.install()  # idempotent: one timer
    assert sum(callback is garbage_collection._TIMER for callback in gc.callbacks) == 1
    before = _pause_count(2), _pause_count(0)
    gc.collect(2)
    gc.collect(0)
    assert (_pause_count(2), _pause_count(0)) == (before[0] + 1, before[1] + 1)


def test_pauses_fall_in_their_buckets_and_add_up() -> None:
    pauses = metrics.GcPauses()
    pauses.observe(2, 0.3)
    pauses.observe(2, 0.9)
    pauses.observe(2, 3.0)
    pauses.observe(7, 1.0)  # no such generation: ignored
    (family,) = pauses.collect()
    samples = {
        (s.name, s.labels.get("le")): s.value
        for s in family.samples
        if s.labels["generation"] == "2"
    }
    assert samples[("cg_gc_pause_seconds_bucket", "0.25")] == 0
    assert samples[("cg_gc_pause_seconds_bucket", "0.5")] == 1
    assert samples[("cg_gc_pause_seconds_bucket", "1.0")] == 2
    assert samples[("cg_gc_pause_seconds_bucket", "+Inf")] == 3
    assert samples[("cg_gc_pause_seconds_count", None)] == 3
    assert samples[("cg_gc_pause_seconds_sum", None)] == pytest.approx(4.2)


def test_the_frozen_objects_are_exported() -> None:
    garbage_collection.install()
    Refreeze(clock=Clock())()
    text = generate_latest(metrics.REGISTRY).decode()
    (line,) = [line for line in text.splitlines() if line.startswith("cg_gc_frozen_objects ")]
    assert float(line.split()[1]) == gc.get_freeze_count() > 0
