"""Does a live object already hold everything we want? Pure.

With server-side apply the operator owns only the fields it sets, so "in sync" means: every
field of the desired object is present in the live object with an equal value. The API server's
defaults (extra fields) and canonical forms (quantities, ints as strings) do not count as drift.

A subset comparison cannot see a field the operator stopped setting (a value removed from a
subscription stays in the ConfigMap). So every desired object is `stamped` with a hash of
itself: when what the operator wants changes in any way, removals included, the stamp differs
from the live one and the object is applied again, and server-side apply drops the fields the
operator no longer sets. Unchanged wishes keep the same stamp: no write when idle or restarted.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from cg_operator.api.constants import ANNOTATION_APPLIED
from cg_operator.reconcile.quantity import parse_quantity

_IGNORED_TOP = {"status"}
# Lists the API declares as sets of strings (listType=set) that other writers add to: another
# controller's finalizer beside ours is not drift (applying would not remove it, so it would
# look changed by someone else on every pass).
SET_LISTS = frozenset({".metadata.finalizers"})


def stamped(desired: Mapping[str, Any]) -> dict[str, Any]:
    """The desired object with ANNOTATION_APPLIED set to a hash of it. A Secret's values are
    left out of the hash (only its keys count): an annotation must not carry anything derived
    from a secret, and a changed value is seen by the comparison itself."""
    hashed = {k: v for k, v in desired.items() if k != "status"}
    for field in ("data", "stringData"):
        if desired.get("kind") == "Secret" and isinstance(desired.get(field), Mapping):
            hashed[field] = sorted(desired[field])
    digest = hashlib.sha256(json.dumps(hashed, sort_keys=True, default=str).encode())
    metadata = dict(desired.get("metadata") or {})
    metadata["annotations"] = {
        **(metadata.get("annotations") or {}),
        ANNOTATION_APPLIED: digest.hexdigest()[:16],
    }
    return {**desired, "metadata": metadata}


def in_sync(desired: Mapping[str, Any], live: Mapping[str, Any] | None) -> bool:
    """True when applying desired to live would change nothing."""
    return difference(desired, live) is None


def difference(desired: Mapping[str, Any], live: Mapping[str, Any] | None) -> str | None:
    """The path of the first field that differs ("" when live is missing), or None."""
    if live is None:
        return ""
    return _first({k: v for k, v in desired.items() if k not in _IGNORED_TOP}, live, "")


def _first(want: Any, have: Any, path: str) -> str | None:
    if _omitted(want, have) or (path in SET_LISTS and _holds_all(want, have)):
        return None
    if isinstance(want, Mapping):
        if not isinstance(have, Mapping):
            return path or "."
        if isinstance(have, Digests):
            want = {key: digest(str(value)) for key, value in want.items()}
        pairs = [(value, have.get(key), f"{path}.{key}") for key, value in want.items()]
    elif isinstance(want, list):
        if not isinstance(have, list) or len(want) != len(have):
            return path
        pairs = [(w, h, f"{path}[{i}]") for i, (w, h) in enumerate(zip(want, have, strict=True))]
    else:
        return None if _equal_scalar(want, have) else path
    for inner_want, inner_have, inner_path in pairs:
        found = _first(inner_want, inner_have, inner_path)
        if found is not None:
            return found
    return None


def _omitted(want: Any, have: Any) -> bool:
    """The API server omits empty lists and maps."""
    return have is None and isinstance(want, Mapping | list) and not want


def _holds_all(want: Any, have: Any) -> bool:
    """A set the API server shares between writers: ours being in it is all we want."""
    return isinstance(have, list) and set(want) <= set(have)


def _equal_scalar(want: Any, have: Any) -> bool:
    if want == have:
        return True
    if isinstance(want, str) and isinstance(have, str | int | float):
        left, right = parse_quantity(want), parse_quantity(str(have))
        return left is not None and left == right
    return False


def needs_replace(desired: Mapping[str, Any], live: Mapping[str, Any] | None) -> bool:
    """Whether applying cannot bring live to desired and the object must be re-created: a
    Service changing between ClusterIP and ExternalName, or whose ports were changed by someone
    else (ports are merged by port number, so applying would add ours beside theirs, and two
    ports with one name are refused)."""
    if live is None or desired["kind"] != "Service":
        return False
    want, have = desired.get("spec") or {}, live.get("spec") or {}
    if want.get("type") != have.get("type"):
        return True
    return _port_keys(want) != _port_keys(have)


def _port_keys(spec: Mapping[str, Any]) -> set[tuple[int, str]]:
    return {(int(p.get("port", 0)), p.get("protocol", "TCP")) for p in spec.get("ports") or []}


def changed_by_someone_else(desired: Mapping[str, Any], live: Mapping[str, Any] | None) -> bool:
    """Whether a difference is someone else's doing: the live object carries the stamp of
    what the operator wants now (its wish did not change since it last applied), yet differs."""
    if live is None:
        return False
    return _stamp(desired) is not None and _stamp(desired) == _stamp(live)


def _stamp(obj: Mapping[str, Any]) -> str | None:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    value = annotations.get(ANNOTATION_APPLIED)
    return str(value) if value is not None else None


def foreign_managers(managed_fields: list[Mapping[str, Any]], ours: str) -> list[dict[str, Any]]:
    """The managedFields entries of writers other than `ours` to the object itself (not its
    status): what the operator keeps of managedFields, to name who changed a field. Usually
    none, so the cache pays nothing for them."""
    return [
        dict(entry)
        for entry in managed_fields
        if entry.get("manager") != ours and not entry.get("subresource")
    ]


def other_writer(managed_fields: list[Mapping[str, Any]], ours: str, path: str = "") -> str | None:
    """Who changed the field at `path` (a difference path such as .spec.replicas): the other
    manager that owns it, else the one that wrote last; None when no one else wrote."""
    entries = foreign_managers(managed_fields, ours)
    if not entries:
        return None
    owners = [e for e in entries if path and _owns(e.get("fieldsV1") or {}, path)]
    latest = max(owners or entries, key=lambda entry: str(entry.get("time") or ""))
    return str(latest.get("manager") or "") or None


def _owns(fields: Mapping[str, Any], path: str) -> bool:
    """Whether a fieldsV1 set holds `path` (lists are matched by their field, not the item)."""
    node: Mapping[str, Any] = fields
    for segment in path.strip(".").split("."):
        name, _, rest = segment.partition("[")
        child = node.get(f"f:{name}")
        if not isinstance(child, Mapping):
            return False
        if rest:
            return True
        node = child
    return True


# Data larger than this is kept as digests in the operator's cache: nothing the operator
# writes comes near it, and a stranger's labelled ConfigMaps of a megabyte each must not fill
# its memory.
LARGE_DATA_BYTES = 256 * 1024
_DATA_FIELDS = ("data", "binaryData")


class Digests(dict[str, str]):
    """A data map kept as a SHA-256 digest per key (see `compact`): compared by digest,
    never read as values."""


def digest(value: str) -> str:
    """The digest a large data value is kept as."""
    return hashlib.sha256(value.encode()).hexdigest()


def compact(obj: dict[str, Any]) -> dict[str, Any]:
    """The object as the operator keeps it: large data maps (ConfigMap, Secret) as digests."""
    for field in _DATA_FIELDS:
        data = obj.get(field)
        if isinstance(data, Mapping) and not isinstance(data, Digests):
            size = sum(len(str(v)) for v in data.values())
            if size > LARGE_DATA_BYTES:
                obj = {**obj, field: Digests({k: digest(str(v)) for k, v in data.items()})}
    return obj


def plain_data(obj: Mapping[str, Any] | None) -> dict[str, str] | None:
    """An object's data map when the cache holds its values; None when absent or digested."""
    data = (obj or {}).get("data")
    if data is None or isinstance(data, Digests):
        return None
    return dict(data)
