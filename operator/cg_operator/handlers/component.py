"""CGComponent handlers: validate catalogue entries, report their adoption, and re-check
everything a change of the catalogue can affect."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import Any

import kopf

from cg_operator.api.component import CGComponentSpec
from cg_operator.api.constants import GROUP, VERSION
from cg_operator.api.kinds import COMPONENT
from cg_operator.handlers import shards
from cg_operator.handlers.catalogue import CatalogueIndex, SeenIndex, catalogue_of, latest
from cg_operator.handlers.installation import enqueue_installation
from cg_operator.handlers.observed import Observed
from cg_operator.handlers.queue import QUEUE
from cg_operator.handlers.rollout import validate_rollout
from cg_operator.handlers.startup_gate import FIRST_EVENTS
from cg_operator.handlers.status_pacing import StatusPacing
from cg_operator.handlers.tenant import enqueue_tenant
from cg_operator.handlers.validate import validate_and_report
from cg_operator.reconcile.adoption import adoption
from cg_operator.reconcile.status import progress_only
from cg_operator.reconcile.validation import component_errors

PLURAL = COMPONENT.plural


def enqueue_component(name: str, kwargs: Mapping[str, Any], *, delay: float = 0.0) -> None:
    """Ask for a pass over one catalogue entry's status (coalesced; `delay` gathers the
    changes of its installations into one pass)."""
    QUEUE.add((PLURAL, name), _run, kwargs, delay=delay)


def _run(key: Hashable, kwargs: Mapping[str, Any]) -> None:
    assert isinstance(key, tuple)
    name = str(key[1])
    index: CatalogueIndex = kwargs["catalogue_index"]
    if name not in index:
        STATUS_PACING.forget(name)
        return
    catalogue = catalogue_of(index)
    for seen, _parsed in index[name]:
        versions, tenants = adoption(name, Observed(kwargs).all_installations())
        validate_and_report(
            plural=PLURAL,
            seen=seen,
            model=CGComponentSpec,
            cross_checks=lambda spec: component_errors(name, spec, catalogue),
            ready_when_valid=True,
            extra={"adoption": [v.wire() for v in versions], "tenants": tenants},
            held=_held(name, kwargs),
        )


# Each catalogue entry's held adoption change (handlers/status_pacing): a cold start of the
# fleet changed every entry's counts with each installation made.
STATUS_PACING = StatusPacing()


def _held(
    name: str, kwargs: Mapping[str, Any]
) -> Callable[[Mapping[str, Any] | None, Mapping[str, Any]], bool]:
    """Holds a status write that only moves the adoption counts; asks for the pass again."""

    def held(stored: Mapping[str, Any] | None, patch: Mapping[str, Any]) -> bool:
        wait = STATUS_PACING.postpone(name, patch, may_wait=progress_only(stored, patch))
        if wait > 0:
            enqueue_component(name, kwargs, delay=wait)
        return wait > 0

    return held


_cascaded: dict[str, int | None] = {}


@kopf.on.event(GROUP, VERSION, PLURAL)
def component_event(*, type: str, name: str, body: kopf.Body, **kwargs: Any) -> None:
    """A catalogue entry changed: check it, then everything whose verdict it can change."""
    FIRST_EVENTS.saw(PLURAL, None, name)
    catalogue_index: CatalogueIndex = kwargs["catalogue_index"]
    if type != "DELETED":
        enqueue_component(name, kwargs)
    # Our own status writes come back as events: only a spec change (or a deletion) can change
    # anything downstream.
    generation = None if type == "DELETED" else body.meta.get("generation")
    if generation is not None and _cascaded.get(name) == generation:
        return
    _cascaded[name] = generation
    for other, (seen, _parsed) in latest(catalogue_index):
        if other != name and any(r.get("component") == name for r in seen.spec.get("requires", [])):
            enqueue_component(other, kwargs)
    tenant_index: SeenIndex = kwargs["tenant_index"]
    for _tenant, seen in latest(tenant_index):
        if any(s.get("name") == name for s in seen.spec.get("components", [])):
            enqueue_tenant(seen.name, kwargs)
    # Installations of this component pick up a changed container spec of their version.
    for live in Observed(kwargs).all_installations():
        if (live.get("spec") or {}).get("component") == name:
            enqueue_installation(live["metadata"]["namespace"], live["metadata"]["name"], kwargs)
    if not shards.current().writes_cluster_status:
        return  # the rollouts' status is the primary shard's
    catalogue = catalogue_of(catalogue_index)
    rollout_index: SeenIndex = kwargs["rollout_index"]
    for _rollout, seen in latest(rollout_index):
        if seen.spec.get("component") == name:
            validate_rollout(seen, catalogue)
