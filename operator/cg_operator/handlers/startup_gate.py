"""kopf's start-up: its index gate made linear in the number of stored objects, and the moment
every stored object's first event has reached a handler (the work queue's start-up check).

kopf holds every handler until its indexes are filled from the initial listing. It tracks that
with a set of toggles, one per listed object of an indexed kind, and every task that has indexed
its object then waits on the set's condition for the gate to open. In kopf 1.38 to 1.45 adding
or dropping any toggle wakes every waiting task, so n objects cost about n^2/2 wake-ups on
kopf's event loop before the first handler runs: with the national fleet's 25,000 children a
restarted operator spent more than five minutes at 100% CPU in it and had not started yet.

A waiter waits for the set's state (on or off), and that state changes only when a toggle is
added or dropped (a toggle turned on or off wakes the waiters itself, unchanged here). So the
waiters are woken only when adding or dropping changes the state: once when the first toggle
closes the gate, once when the last one opens it. Same semantics, linear cost.

`install()` replaces ToggleSet's add and drop methods and refuses (raises) when kopf's class no
longer has the shape this was written for, so an upgrade of kopf cannot silently drop it.

After the gate opens kopf delivers one event per stored object of the operator's kinds, and an
installation's event names its dependents and its tenant: reconciling as they arrive would
reconcile an object once per event that names it. `FIRST_EVENTS` counts the objects whose first
event a handler has seen against the objects in kopf's indexes (complete once the gate is open);
the work queue holds its passes until they match, and until the children's watches have listed
everything (handlers/informers), so a restart reconciles each object once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

from kopf._cogs.aiokits import aiotoggles

from cg_operator.api.kinds import ALL_KINDS
from cg_operator.handlers.observed import CHILD_KINDS, INFORMED_KINDS, snapshot

# kopf's index kwargs that hold every stored object of the kinds kopf watches: the
# installations (by namespace, one value per object) and our cluster-scoped kinds (by name).
INDEXES: tuple[str, ...] = (
    *(k.index_name for k in CHILD_KINDS if k not in INFORMED_KINDS),
    *(k.index for k in ALL_KINDS if k.index),
)

_EXPECTED = ("make_toggle", "drop_toggle", "drop_toggles", "is_on", "wait_for")


async def _make_toggle(
    self: Any, __val: bool = False, *, name: str | None = None
) -> aiotoggles.Toggle:
    toggle = aiotoggles.Toggle(__val, name=name, condition=self._condition)
    async with self._condition:
        was_on = self.is_on()
        self._toggles.add(toggle)
        if self.is_on() != was_on:
            self._condition.notify_all()
    return toggle


async def _drop_toggles(self: Any, toggles: Any) -> None:
    async with self._condition:
        was_on = self.is_on()
        self._toggles.difference_update(toggles)
        if self.is_on() != was_on:
            self._condition.notify_all()


async def _drop_toggle(self: Any, toggle: aiotoggles.Toggle) -> None:
    await _drop_toggles(self, (toggle,))


def install() -> None:
    """Make kopf's ToggleSet wake its waiters only when its state changes (idempotent)."""
    cls = aiotoggles.ToggleSet
    if getattr(cls, "_cg_wakes_on_change", False):
        return
    missing = [name for name in _EXPECTED if not callable(getattr(cls, name, None))]
    probe = cls(all)
    if missing or not hasattr(probe, "_toggles") or not hasattr(probe, "_condition"):
        raise RuntimeError(
            "kopf's ToggleSet changed shape (missing "
            f"{', '.join(missing) or '_toggles/_condition'}): review handlers/startup_gate.py"
        )
    cls.make_toggle = _make_toggle  # type: ignore[method-assign]
    cls.drop_toggle = _drop_toggle  # type: ignore[method-assign]
    cls.drop_toggles = _drop_toggles  # type: ignore[method-assign]
    cls._cg_wakes_on_change = True  # type: ignore[attr-defined]


class FirstEvents:
    """Which stored objects a handler has had an event for since start-up."""

    def __init__(self, indexes: Iterable[str] = INDEXES) -> None:
        self._indexes = tuple(indexes)
        self._seen: set[tuple[str, str, str]] = set()
        self._lock = threading.Lock()
        self._complete = False

    def saw(self, plural: str, namespace: str | None, name: str) -> None:
        """A handler had an event for this object (cheap once start-up is over)."""
        if not self._complete:
            with self._lock:
                self._seen.add((plural, namespace or "", name))

    def complete(self, context: Mapping[str, Any]) -> bool:
        """Whether every object in kopf's indexes (passed in `context`) has had its event."""
        if self._complete:
            return True
        if any(name not in context for name in self._indexes):
            return False  # no handler has run yet
        stored = sum(_objects_in(context[name]) for name in self._indexes)
        with self._lock:
            if len(self._seen) < stored:
                return False
            self._complete = True
            self._seen.clear()
        return True


def _objects_in(index: Mapping[Any, Any]) -> int:
    """Objects in a kopf index: one value per object under its key."""
    return sum(snapshot(lambda: [len(store) for store in index.values()]))


FIRST_EVENTS = FirstEvents()
