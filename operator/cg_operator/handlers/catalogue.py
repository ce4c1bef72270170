"""In-memory indexes of the catalogue and the tenants, kept by kopf from its watches."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import kopf

from cg_operator.api.component import CGComponentSpec
from cg_operator.api.constants import GROUP, VERSION
from cg_operator.api.kinds import COMPONENT, ROLLOUT, TENANT
from cg_operator.handlers.monitoring import watch_event
from cg_operator.handlers.observed import snapshot
from cg_operator.reconcile.validation import Catalogue, parse_spec


@dataclass(frozen=True)
class Seen:
    """The latest body of an object as the watch delivered it (without managedFields)."""

    body: dict[str, Any]

    @classmethod
    def of(cls, body: kopf.Body) -> Seen:
        """From a kopf body."""
        meta = {k: v for k, v in dict(body.meta).items() if k != "managedFields"}
        return cls(body={**dict(body), "metadata": meta})

    @property
    def name(self) -> str:
        """metadata.name."""
        return str(self.body["metadata"]["name"])

    @property
    def namespace(self) -> str | None:
        """metadata.namespace (None for cluster-scoped objects)."""
        found = self.body["metadata"].get("namespace")
        return str(found) if found else None

    @property
    def generation(self) -> int | None:
        """metadata.generation."""
        found = self.body["metadata"].get("generation")
        return int(found) if found is not None else None

    @property
    def spec(self) -> dict[str, Any]:
        """The spec (empty when absent)."""
        return dict(self.body.get("spec") or {})

    @property
    def status(self) -> dict[str, Any]:
        """The status (empty when absent)."""
        return dict(self.body.get("status") or {})


@kopf.index(GROUP, VERSION, COMPONENT.plural, id=COMPONENT.index)
async def catalogue_index(
    name: str, body: kopf.Body, **_: Any
) -> dict[str, tuple[Seen, CGComponentSpec | None]]:
    """name -> (latest body, parsed spec or None when the spec does not validate)."""
    watch_event(COMPONENT.plural)
    parsed, _errors = parse_spec(CGComponentSpec, body.spec)
    return {name: (Seen.of(body), parsed)}


@kopf.index(GROUP, VERSION, TENANT.plural, id=TENANT.index)
async def tenant_index(name: str, body: kopf.Body, **_: Any) -> dict[str, Seen]:
    """name -> the tenant's latest body (to re-validate it when the catalogue changes)."""
    watch_event(TENANT.plural)
    return {name: Seen.of(body)}


@kopf.index(GROUP, VERSION, ROLLOUT.plural, id=ROLLOUT.index)
async def rollout_index(name: str, body: kopf.Body, **_: Any) -> dict[str, Seen]:
    """name -> the rollout's latest body (to re-validate it when the catalogue changes)."""
    watch_event(ROLLOUT.plural)
    return {name: Seen.of(body)}


CatalogueIndex = kopf.Index[str, tuple[Seen, CGComponentSpec | None]]
SeenIndex = kopf.Index[str, Seen]


def catalogue_of(index: CatalogueIndex) -> Catalogue:
    """The valid catalogue entries by name (an invalid entry counts as absent)."""
    return catalogue_with_generations(index)[0]


def catalogue_with_generations(
    index: CatalogueIndex,
) -> tuple[Catalogue, dict[str, int | None]]:
    """The catalogue (as `catalogue_of`) and each entry's metadata.generation, valid or not,
    from one snapshot: what is remembered under a generation was computed from its spec."""
    entries = list(latest(index))
    catalogue = {name: parsed for name, (_seen, parsed) in entries if parsed is not None}
    return catalogue, {name: seen.generation for name, (seen, _parsed) in entries}


def latest(index: kopf.Index[str, Any]) -> Iterator[tuple[str, Any]]:
    """(key, value) for every key; each of our indexes holds one value per key."""
    yield from snapshot(lambda: [(key, value) for key, store in index.items() for value in store])
