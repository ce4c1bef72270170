"""Who this process is to the API server when it writes: the labels stamped on every object it
applies or creates (a sharded operator's watches select on them) and the User-Agent of its
requests (audit logs, and the sharding test, tell shards apart by it). Set once at start-up,
before the first request; a process without shards adds nothing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cg_operator import __version__

_labels: dict[str, str] = {}
_agent = f"cg-operator/{__version__}"


def configure(labels: Mapping[str, str], shard: str | None) -> None:
    """The labels every write carries and the shard named in the User-Agent."""
    global _agent  # noqa: PLW0603 - one setting of the process, made before any request
    _labels.clear()
    _labels.update(labels)
    _agent = f"cg-operator/{__version__}" + (f" shard/{shard}" if shard else "")


def user_agent() -> str:
    """The User-Agent of this process's requests."""
    return _agent


def labelled(obj: Mapping[str, Any]) -> dict[str, Any]:
    """`obj` with this process's labels added (unchanged without any)."""
    if not _labels:
        return dict(obj)
    metadata = dict(obj.get("metadata") or {})
    metadata["labels"] = {**(metadata.get("labels") or {}), **_labels}
    return {**obj, "metadata": metadata}
