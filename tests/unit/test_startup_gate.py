"""kopf's start-up gate wakes its waiters only when it opens or closes, with the same
semantics: handlers wait until the last listed object is indexed."""

from __future__ import annotations

import asyncio

import pytest
from kopf._cogs.aiokits import aiotoggles

from cg_operator.handlers import startup_gate


@pytest.fixture(autouse=True)
def _installed() -> None:
    startup_gate.install()


def _count_wakeups(toggles: aiotoggles.ToggleSet) -> list[int]:
    calls = [0]
    condition = toggles._condition
    original = condition.notify_all

    def counting() -> None:
        calls[0] += 1
        original()

    condition.notify_all = counting  # type: ignore[method-assign]
    return calls


def test_waiters_pass_only_when_the_last_object_is_indexed_and_are_woken_once() -> None:
    async def scenario() -> None:
        gate = aiotoggles.ToggleSet(all)
        wakeups = _count_wakeups(gate)
        toggles = [await gate.make_toggle(name=f"object-{i}") for i in range(500)]
        waiters = [asyncio.create_task(gate.wait_for(True)) for _ in range(50)]
        for toggle in toggles[:-1]:
            await gate.drop_toggle(toggle)
        await asyncio.sleep(0)  # let the waiters run if they were (wrongly) released
        assert not any(w.done() for w in waiters), "the gate opened before the last object"
        await gate.drop_toggle(toggles[-1])
        await asyncio.wait_for(asyncio.gather(*waiters), timeout=5)
        # 500 toggles added and dropped: the gate closed once and opened once.
        assert wakeups[0] == 2

    asyncio.run(scenario())


def test_a_toggle_turned_on_still_wakes_the_waiters() -> None:
    async def scenario() -> None:
        paused = aiotoggles.ToggleSet(any)  # kopf's "operator paused" set
        toggle = await paused.make_toggle(name="peering")
        waiter = asyncio.create_task(paused.wait_for(True))
        await asyncio.sleep(0)
        assert not waiter.done()
        await toggle.turn_to(True)
        await asyncio.wait_for(waiter, timeout=5)
        await paused.drop_toggles([toggle])
        assert paused.is_off()

    asyncio.run(scenario())


def test_install_refuses_a_kopf_whose_toggle_set_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    class Reshaped:
        def __init__(self, fn: object) -> None:
            self._toggles: set[object] = set()

        def is_on(self) -> bool:
            return True

    monkeypatch.setattr(aiotoggles, "ToggleSet", Reshaped)
    with pytest.raises(RuntimeError, match=r"review handlers/startup_gate\.py"):
        startup_gate.install()


def _context(**sizes: list[int]) -> dict[str, dict[str, list[object]]]:
    """kopf-like indexes: index name -> key -> store (one value per object)."""
    indexes = {name: {} for name in startup_gate.INDEXES}
    for name, stores in sizes.items():
        indexes[name] = {f"key-{i}": [object()] * n for i, n in enumerate(stores)}
    return indexes


def test_first_events_complete_once_every_stored_object_had_its_event() -> None:
    events = startup_gate.FirstEvents()
    context = _context(
        observed_componentinstallations=[2, 1], catalogue_index=[1, 1], tenant_index=[1, 1]
    )
    assert not events.complete({}), "no handler has run yet: kopf's indexes are not known"
    for name in ("open-zaak", "objecten"):
        events.saw("componentinstallations", "gm0363-amsterdam", name)
    events.saw("componentinstallations", "gm0599-rotterdam", "open-zaak")
    events.saw("componentinstallations", "gm0599-rotterdam", "open-zaak")  # a second event
    events.saw("cgcomponents", None, "open-zaak")
    events.saw("cgcomponents", None, "objecten")
    events.saw("municipalitytenants", None, "gm0363-amsterdam")
    assert not events.complete(context), "one tenant's event is still missing"
    events.saw("municipalitytenants", None, "gm0599-rotterdam")
    assert events.complete(context)
    assert events.complete({}), "once complete, it stays complete"
