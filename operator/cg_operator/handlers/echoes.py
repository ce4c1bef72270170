"""Tells a status-only change, coming back as a watch event, from a change a pass must act on.

Every status the operator writes returns as an event of that object. A pass of the object itself
would find what the pass that wrote it found, so such an echo asks for no pass of the object;
the objects that read its status (a tenant's summary, dependents, rollouts) are still asked.
What a pass acts on is the spec (its generation), labels, annotations, finalizers and deletion.
The same holds for the children a tenant owns (its namespace, quota, limit range, network
policies): the tenant repairs their content, never reads their status, and the controller-manager
updates a quota's usage whenever a pod or claim comes or goes.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Hashable, Mapping
from typing import Any

Fingerprint = Callable[[Mapping[str, Any]], int]


def fingerprint(body: Mapping[str, Any]) -> int:
    """A hash of what an object's own pass acts on: everything but its status (our kinds,
    whose generation counts spec changes)."""
    meta = body.get("metadata") or {}
    return hash(
        (
            meta.get("generation"),
            meta.get("deletionTimestamp"),
            tuple(meta.get("finalizers") or ()),
            tuple(sorted((meta.get("labels") or {}).items())),
            tuple(sorted((meta.get("annotations") or {}).items())),
        )
    )


def content_fingerprint(body: Mapping[str, Any]) -> int:
    """A hash of an object's content but its status and the fields the API server changes with
    every write (built-in kinds, some of which have no generation)."""
    meta = {
        k: v
        for k, v in (body.get("metadata") or {}).items()
        if k not in ("resourceVersion", "managedFields")
    }
    rest = {k: v for k, v in body.items() if k not in ("metadata", "status")}
    return hash(json.dumps([meta, rest], sort_keys=True, default=str))


class StatusEchoes:
    """The last fingerprint seen per key (an object, as one event handler sees it)."""

    def __init__(self, fingerprint_of: Fingerprint = fingerprint) -> None:
        self._fingerprint = fingerprint_of
        self._lock = threading.Lock()
        self._seen: dict[Hashable, int] = {}

    def acts_on(self, key: Hashable, body: Mapping[str, Any]) -> bool:
        """False when this event differs from the previous one for key only in status."""
        new = self._fingerprint(body)
        with self._lock:
            previous, self._seen[key] = self._seen.get(key), new
        return previous != new

    def forget(self, key: Hashable) -> None:
        """The object is gone: its next incarnation starts fresh."""
        with self._lock:
            self._seen.pop(key, None)


ECHOES = StatusEchoes()
TENANT_CHILD_ECHOES = StatusEchoes(content_fingerprint)
