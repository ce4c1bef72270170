"""Holds an object's progress-only status changes (reconcile/status.progress_only) for a while,
so that the steps of one change share a status write.

An installation comes up in steps a few seconds apart (children applied, dependencies Ready,
more children applied, the configuration Job running, Configured, Ready): each changed its
status, and each was a write. A progress-only change is not written when a pass first finds it:
it is held, the pass is asked for again PROGRESS_WRITE_SECONDS later, and that pass writes what
is true by then, unless a write that cannot wait (Ready's transition, a new generation or
version, an inventory that loses an entry, a change that comes with a warning Event) has
carried it out sooner. Tenants' summaries and catalogue entries' adoption counts are held the
same way, each kind with its own rule of what may wait. The window opens at the first held
change, not at the last write: after a quiet spell a change still waits, so the steps that
follow it join it. Chosen with the cold benchmark
(`make bench BENCH_ARGS="--quick --scenarios cold"`, CONTRIBUTING.md).

The inventory is among what may wait. Until the write, the held inventory is kept here, and
pruning reads it in place of the stored one (`held_inventory`): it is what the latest pass
applied, that pass having disposed of everything else. A child applied by a held pass and no
longer wanted by the next one is disposed of as if the status had listed it, and a child a held
pass disposed of is not disposed of again by the next. Kept in memory only: after a restart the
first write of each object is never held; a child applied in the last window before a crash and
wanted no longer after it stays (its owner reference still removes it with the installation),
and one disposed of in that window is asked for again (a delete that finds nothing).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Mapping
from typing import Any

from cg_operator.reconcile.status import inventory_entries

# How long a progress-only change is held before it is written (the steps within share a write).
PROGRESS_WRITE_SECONDS = 10.0


class StatusPacing:
    """Per object: since when a progress-only change has been held, and the inventory it holds."""

    def __init__(
        self, window: float = PROGRESS_WRITE_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._held: dict[Hashable, tuple[float, frozenset[tuple[str, str, str]]]] = {}

    def postpone(self, key: Hashable, patch: Mapping[str, Any] | None, *, may_wait: bool) -> float:
        """Seconds to hold `patch` for (the caller asks for its pass again then); 0 when it is
        to be written now, or there is nothing to write: nothing is held for key then."""
        if patch is None or not may_wait:
            self.settled(key)
            return 0.0
        wait = self.hold(key, patch)
        if wait == 0:
            self.settled(key)
        return wait

    def hold(self, key: Hashable, patch: Mapping[str, Any]) -> float:
        """Hold `patch` (the latest progress-only change for key): seconds until it is due, 0
        when the window that its first held change opened has ended."""
        now = self._clock()
        with self._lock:
            since = self._held.get(key, (now, frozenset()))[0]
            self._held[key] = (since, inventory_entries(patch))
        return max(0.0, since + self._window - now)

    def held_inventory(self, key: Hashable) -> frozenset[tuple[str, str, str]] | None:
        """The inventory of the change held for key, (apiVersion, kind, name); None when no
        change is held (the stored inventory is the one)."""
        with self._lock:
            held = self._held.get(key)
        return held[1] if held else None

    def settled(self, key: Hashable) -> None:
        """A status write for key went out, or there is nothing left to write: nothing is held."""
        with self._lock:
            self._held.pop(key, None)

    def forget(self, key: Hashable) -> None:
        """The object is gone."""
        self.settled(key)
