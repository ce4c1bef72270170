"""Spaces an object's progress-only status writes (reconcile/status.progress_only).

A version move takes an installation through several steps a few seconds apart (applied,
workloads rolled, configuration Job running, Ready): each changed its status message, and each
was a write, for every installation a catalogue change moves. A progress-only change that comes
within PROGRESS_WRITE_SECONDS of the object's last status write is not written then: the pass is
asked for again when the window ends, and writes whatever is true by then. Ready's transitions,
the inventory and every change that comes with an event are written at once, so `kubectl get
cgi` shows progress at most this much late and nothing a rollout or a person waits for is
delayed. Kept in memory: after a restart the first write of each object is never held.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable

# How long after an object's last status write a progress-only change waits to be written.
PROGRESS_WRITE_SECONDS = 5.0


class StatusPacing:
    """When each object's status was last written (monotonic seconds)."""

    def __init__(
        self, window: float = PROGRESS_WRITE_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._last: dict[Hashable, float] = {}

    def wait(self, key: Hashable) -> float:
        """Seconds until a progress-only write for key is due; 0 when it is due now."""
        with self._lock:
            last = self._last.get(key)
        if last is None:
            return 0.0
        return max(0.0, last + self._window - self._clock())

    def wrote(self, key: Hashable) -> None:
        """A status write for key went out now."""
        with self._lock:
            self._last[key] = self._clock()

    def forget(self, key: Hashable) -> None:
        """The object is gone."""
        with self._lock:
            self._last.pop(key, None)
