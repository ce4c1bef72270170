"""The status this process last wrote to each object, for the pass that starts before the echo
of that write has reached kopf's index.

A pass compares what it wants with the status it reads from the index. Right after a write the
index can still hold the object as it was before it (the same resourceVersion the write was
based on): a pass then sees its own last verdict as missing and writes it again, or recomputes a
condition's transition time from the older one. Where the index holds the very version our write
replaced, the status we wrote is the truth; any other version (our write's echo, or someone
else's change) is read as it is."""

from __future__ import annotations

import threading
from collections.abc import Hashable, Mapping
from typing import Any


class OwnStatus:
    """Per object: the resourceVersion our last status write replaced, and what it wrote."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._written: dict[Hashable, tuple[str, Mapping[str, Any]]] = {}

    def fresh(self, key: Hashable, live: dict[str, Any]) -> dict[str, Any]:
        """`live`, with the status we wrote when the index still shows the version before it."""
        with self._lock:
            written = self._written.get(key)
        version = live.get("metadata", {}).get("resourceVersion")
        if written is None or version is None or written[0] != version:
            return live
        return {**live, "status": written[1]}

    def wrote(self, key: Hashable, replaced_version: str | None, answer: Mapping[str, Any]) -> None:
        """Record a status write based on `replaced_version`, and the API server's answer."""
        if replaced_version is None:
            return
        with self._lock:
            self._written[key] = (replaced_version, answer.get("status") or {})

    def forget(self, key: Hashable) -> None:
        """The object is gone."""
        with self._lock:
            self._written.pop(key, None)
