"""Tells a status-only change, coming back as a watch event, from a change a pass must act on,
for handlers whose pass reads no status of that object.

A rollout reads a tenant's labels and spec, never its status, so the echo of a tenant's status
write asks for no rollout pass. A tenant repairs the content of its own children (namespace,
quota, limit range, network policies) and never reads their status, which the controller-manager
updates whenever a pod or claim comes or goes. What a pass acts on is the spec (its generation),
labels, annotations, finalizers and deletion.

An object's own pass is asked for on every event, echoes included: a pass reads kopf's index,
which can lag the operator's own last write. A pass that started before its echo arrived may
compare against the older status, find nothing to write and leave a stale verdict (a dependency
seen not Ready an instant before it was Ready again); the echo's pass corrects it.
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
