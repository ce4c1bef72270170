"""Which operator process (shard) writes a tenant: pure decisions, so that they are tested
without a cluster.

Municipalities are spread over shards by a label on the tenant, as Flux spreads its objects
with `sharding.fluxcd.io/key`: a tenant labelled `appstore.commonground.nl/shard: east` is
reconciled by the process started with `--shard east`, an unlabelled one by the primary shard
(`--shard main`). The primary also writes the cluster-wide status (the catalogue's adoption and
every rollout's progress): those sum up all tenants, and one writer keeps them from flapping
between two shards' partial views. A process without `--shard` owns everything (one process,
as before sharding).

A move is a handover, recorded in the tenant's `status.shard`: the shard that wrote the tenant
last. The new shard writes nothing until the old one has finished its passes and handed the
tenant over by writing the new shard's name there, so two shards never write one tenant's
objects at once; a shard that is gone cannot hand over, and after a deadline the new shard
takes the tenant anyway (a lease duration and more: a live shard hands over within a pass).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cg_operator.api.constants import LABEL_SHARD

PRIMARY_SHARD = "main"
# How long a new shard waits for the old one to hand a tenant over before taking it anyway.
HANDOVER_DEADLINE_SECONDS = 30.0


class Ownership(enum.Enum):
    """What this process may do with a tenant and everything in its namespace."""

    OWNED = "owned"
    """Reconcile it."""
    AWAITING_HANDOVER = "awaiting-handover"
    """It is labelled for this shard, but the previous shard has not handed it over yet."""
    RELEASING = "releasing"
    """It moved away from this shard, which still has to hand it over."""
    OTHERS = "others"
    """Another shard's: look, never write."""


@dataclass(frozen=True)
class Shard:
    """This process's place among the shards: `name` None when it is the only process."""

    name: str | None = None

    @property
    def sharded(self) -> bool:
        """Whether tenants are spread over several processes."""
        return self.name is not None

    @property
    def writes_cluster_status(self) -> bool:
        """Whether this process writes the catalogue's and the rollouts' status."""
        return self.name is None or self.name == PRIMARY_SHARD

    def child_labels(self) -> dict[str, str]:
        """The label each object this process writes carries (its watches select on it)."""
        return {LABEL_SHARD: self.name} if self.name is not None else {}

    def status_fields(self) -> dict[str, Any]:
        """What a tenant's status records of its writer."""
        return {"shard": self.name} if self.name is not None else {}


def shard_of(tenant: Mapping[str, Any]) -> str:
    """The shard a tenant is labelled for (the primary when unlabelled)."""
    labels = (tenant.get("metadata") or {}).get("labels") or {}
    return str(labels.get(LABEL_SHARD) or PRIMARY_SHARD)


def ownership(shard: Shard, tenant: Mapping[str, Any], waited: float | None = None) -> Ownership:
    """Whether this process writes `tenant`: its label names this shard and the last writer
    (status.shard) is this shard, nobody yet, or has handed over by naming this shard; a last
    writer that did not hand over within the deadline (`waited`: seconds since this process
    first saw the tenant labelled for it) is taken to be gone."""
    if shard.name is None:
        return Ownership.OWNED
    labelled = shard_of(tenant)
    last = ((tenant.get("status") or {}).get("shard")) or None
    if labelled != shard.name:
        return Ownership.RELEASING if last == shard.name else Ownership.OTHERS
    if last in (None, shard.name):
        return Ownership.OWNED
    if waited is not None and waited >= HANDOVER_DEADLINE_SECONDS:
        return Ownership.OWNED
    return Ownership.AWAITING_HANDOVER


def child_selector(shard: Shard, managed: str) -> str:
    """The server-side label selector of this process's child watches: what it wrote."""
    return ",".join([managed, *(f"{k}={v}" for k, v in shard.child_labels().items())])
