"""The copy of a live child the operator keeps in memory, as controller-runtime's cache
transforms make one. Pure.

The operator holds every child of every tenant (the children's stores, pickled, and kopf's
index of installations), so what one copy costs is multiplied by the national fleet's tens of
thousands of objects. A copy keeps everything a pass compares or reads, and drops or shares
what it never does:

- its own managedFields entry (half of a Deployment's JSON; never compared), keeping other
  writers' entries, which name who changed a field;
- large data maps, kept as digests (`diff.compact`);
- repeated strings: every Deployment of a component carries the same keys ("name",
  "containerPort", "readinessProbe", ...) and mostly the same short values (images, env names,
  labels), each decoded as its own string object per event. Interned, one object serves every
  copy: measured on the benchmark's fleet, a Deployment's copy went from 28.6 to 16.1 KB and a
  Job's from 33.3 to 19.3 KB (bench/README.md, "Where the memory is"). A copy that is pickled
  (handlers/observed.ChildStore) is not interned: it holds no string objects to share.

A kept copy is read-only: a pass that wants to change one takes its own copy first.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, cast

from cg_operator.reconcile.diff import compact, foreign_managers

# Longer strings are mostly unique (certificates, scripts, status messages): interning them
# would only add entries to the interpreter's table.
SHARED_STRING_MAX = 64


def kept(obj: Mapping[str, Any], manager: str, *, share: bool = True) -> dict[str, Any]:
    """The copy to keep of a live object whose own writes are made as `manager`. Applied to a
    kept copy it changes nothing (the watch makes it before kopf's index sees the object).
    `share=False` leaves strings as they are, for a copy kept pickled (handlers/observed's
    packed stores), where interning saves nothing and costs four times the pickling."""
    meta = dict(obj.get("metadata") or {})
    entries = meta.pop("managedFields", None) or []
    foreign = foreign_managers(list(entries), manager)
    if foreign:
        meta["managedFields"] = foreign
    copy = compact({**obj, "metadata": meta})
    return cast(dict[str, Any], shared(copy)) if share else copy


def is_kept(obj: Mapping[str, Any], manager: str) -> bool:
    """Whether an object is already in its kept form (carries no managedFields of `manager`):
    cheap, so a kept copy is shared rather than copied again."""
    entries = (obj.get("metadata") or {}).get("managedFields") or []
    return not any(entry.get("manager") == manager for entry in entries)


def shared(value: Any) -> Any:
    """`value` with every mapping key and every short string value interned. Containers are
    copied (plain dicts and lists; a Digests map stays a Digests map), scalars are returned."""
    kind = type(value)
    if kind is str:
        return sys.intern(value) if len(value) <= SHARED_STRING_MAX else value
    if kind is list:
        return [shared(item) for item in value]
    if isinstance(value, dict):
        copied = {sys.intern(key): shared(item) for key, item in value.items()}
        return copied if kind is dict else kind(copied)
    return value
