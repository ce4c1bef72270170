"""One lock per object: a tenant or installation is reconciled by one thread at a time, however
many events (its own, its children's, its dependencies') ask for it."""

from __future__ import annotations

import threading
from collections.abc import Hashable

_guard = threading.Lock()
_locks: dict[Hashable, threading.Lock] = {}


def lock_for(key: Hashable) -> threading.Lock:
    """The lock of one object, created on first use."""
    with _guard:
        found = _locks.get(key)
        if found is None:
            found = _locks[key] = threading.Lock()
        return found


def forget(key: Hashable) -> None:
    """Drop the lock of an object that is gone."""
    with _guard:
        _locks.pop(key, None)
