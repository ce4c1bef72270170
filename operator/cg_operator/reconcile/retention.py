"""What is data, and what happens to it when it is no longer wanted. Pure.

Data (claims of Data volumes, Secrets of embedded services and of generated settings) outlives
a change of delivery or a removal unless deletionPolicy is Delete: it is then labelled retained
instead, so that a person can find it, and reclaimed when the installation wants it again.
Everything else the installation no longer wants is deleted.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from cg_operator.api.refs import Ref
from cg_operator.api.tenant import DeletionPolicy
from cg_operator.reconcile.backing import FLAVOURS
from cg_operator.reconcile.pod import GENERATED_SECRET_SUFFIX

# <component>-<service> for an embedded service's Secret, <component>-secrets for generated ones.
_DATA_SECRET_SUFFIXES = (*(f"-{t.value.lower()}" for t in FLAVOURS), GENERATED_SECRET_SUFFIX)


class Disposal(NamedTuple):
    """What to do with objects no longer wanted."""

    delete: list[Ref]
    retain: list[Ref]


def is_data(ref: Ref) -> bool:
    """Whether an installation's child holds data (recognised by kind and name)."""
    if ref.kind == "PersistentVolumeClaim":
        return True
    return ref.kind == "Secret" and ref.name.endswith(_DATA_SECRET_SUFFIXES)


def dispose(
    unwanted: Iterable[Ref], policy: DeletionPolicy | str, known_data: Iterable[Ref] = ()
) -> Disposal:
    """Split what is no longer wanted into what to delete and what to keep, labelled retained:
    data (is_data, or among `known_data`) is kept unless the policy is Delete; the rest is
    always deleted."""
    # Anything but an explicit Delete keeps data: an unreadable policy must not delete it.
    keep = str(policy) != DeletionPolicy.DELETE.value
    data = set(known_data)
    delete: list[Ref] = []
    retain: list[Ref] = []
    for ref in sorted(set(unwanted)):
        (retain if keep and (ref in data or is_data(ref)) else delete).append(ref)
    return Disposal(delete, retain)
