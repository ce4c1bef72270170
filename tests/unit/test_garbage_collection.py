"""Each full collection freezes its survivors, so the next walks only what is new; the freeze is
renewed when the work queue runs dry and the frozen objects have grown by a quarter or an hour
has passed, so cyclic garbage among frozen objects is freed by the next renewal; and every
collection's pause is exported."""

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
    """The rest of the unit tier runs with the collector as it was: nothing frozen, no
    callbacks of the operator's."""
    callbacks = list(gc.callbacks)
    yield
    gc.callbacks[:] = callbacks
    gc.unfreeze()


class _Cycle:
    """An object that refers to itself: only the collector frees it."""

    def __init__(self) -> None:
        self.me = self


@pytest.mark.parametrize(
    ("last", "frozen", "due", "why"),
    [
        (None, 0, True, "never renewed: the first idle moment renews"),
        (100.0, 1200, False, "hardly grown: a renewal's full collection would be wasted"),
        (100.0, 1250, True, "grown by a quarter, a renewal a minute ago or more"),
        (141.0, 2000, False, "grown, but renewed less than a minute ago"),
        (-3400.0, 1000, True, "an hour without a renewal"),
    ],
)
def test_renewal_is_due_after_growth_spaced_or_hourly(
    last: float | None, frozen: int, due: bool, why: str
) -> None:
    assert renew_due(200.0, last, frozen, 1000, least=60, most=3600) is due, why


def test_the_first_idle_freezes_what_is_alive() -> None:
    kept = [_Cycle() for _ in range(10)]
    Refreeze(clock=Clock())()
    assert gc.get_freeze_count() >= len(kept)


def test_frozen_cyclic_garbage_is_freed_by_the_renewal_after_growth() -> None:
    clock = Clock()
    refreeze = Refreeze(least=60, most=3600, clock=clock)
    cycle = _Cycle()
    alive = weakref.ref(cycle)
    refreeze()  # frozen while referenced
    del cycle
    gc.collect()
    assert alive() is not None, "a frozen cycle is not walked by collections"
    clock.now += 600
    refreeze()
    assert alive() is not None, "nothing grew since: no renewal"
    grown = [_Cycle() for _ in range(gc.get_freeze_count() // 3)]
    gc.freeze()  # as full collections freeze their survivors
    refreeze()
    assert alive() is None, "the renewal collects everything before it freezes again"
    assert len(grown) > 0


def test_a_full_collection_freezes_its_survivors() -> None:
    garbage_collection.install()
    gc.unfreeze()
    kept = [_Cycle() for _ in range(1000)]
    garbage = _Cycle()
    gone = weakref.ref(garbage)
    del garbage
    gc.collect(1)
    assert gc.get_freeze_count() == 0, "only full collections freeze"
    gc.collect(2)
    assert gone() is None, "garbage is collected before the survivors are frozen"
    assert gc.get_freeze_count() >= len(kept)
    assert not gc.get_objects(generation=2), "the next full collection has nothing old to walk"


def test_automatic_full_collections_freeze_too() -> None:
    """The interpreter's own full collections (not only gc.collect) run the callback, and the
    objects they keep stay usable."""
    garbage_collection.install()
    gc.unfreeze()
    before = metrics.GC_PAUSE.count(2)
    kept = []
    while metrics.GC_PAUSE.count(2) == before:
        kept.append({"spec": {"values": [len(kept)]}})
    assert gc.get_freeze_count() > 0
    assert kept[-1]["spec"]["values"] == [len(kept) - 1]
    assert sum(item["spec"]["values"][0] for item in kept[:100]) == sum(range(100))


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
