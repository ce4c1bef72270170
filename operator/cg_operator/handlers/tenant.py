"""MunicipalityTenant handlers: the namespace, its guard rails, one installation per
subscription, and a status that says per component why it is not Ready."""

from __future__ import annotations

import logging
from collections.abc import Hashable, Mapping
from typing import Any

import kopf

from cg_operator.api.constants import FINALIZER, GROUP, LABEL_RETAINED, LABEL_TENANT, VERSION
from cg_operator.api.refs import Ref
from cg_operator.api.tenant import DeletionPolicy, MunicipalityTenantSpec
from cg_operator.handlers.catalogue import Seen, SeenIndex, catalogue_of, latest
from cg_operator.handlers.observed import Observed, snapshot
from cg_operator.handlers.queue import QUEUE
from cg_operator.handlers.startup_gate import FIRST_EVENTS
from cg_operator.handlers.sync import apply_all, prune
from cg_operator.handlers.validate import now
from cg_operator.k8s import objects
from cg_operator.k8s.client import patch_status
from cg_operator.reconcile.diff import in_sync
from cg_operator.reconcile.rollout import assignments_for
from cg_operator.reconcile.status import existing_conditions, status_patch, validation_conditions
from cg_operator.reconcile.tenant import plan_tenant, summarise, tenant_conditions
from cg_operator.reconcile.validation import Catalogue, FieldError, parse_spec, tenant_errors

log = logging.getLogger(__name__)
PLURAL = "municipalitytenants"


def enqueue_tenant(name: str, kwargs: Mapping[str, Any], *, delay: float = 0.0) -> None:
    """Ask for a reconcile pass of one tenant (coalesced with pending ones; `delay` gathers
    the changes of its installations into one pass)."""
    QUEUE.add((PLURAL, name), _run, kwargs, delay=delay)


def _run(key: Hashable, kwargs: Mapping[str, Any]) -> None:
    assert isinstance(key, tuple)
    name = str(key[1])
    index: SeenIndex = kwargs["tenant_index"]
    if name in index:
        for seen in snapshot(lambda: list(index[name])):
            reconcile_tenant(seen, kwargs)


def reconcile_tenant(seen: Seen, kwargs: Mapping[str, Any]) -> None:
    """One reconcile pass of one tenant (the queue runs one pass per object at a time)."""
    observed = Observed(kwargs)
    body = seen.body
    if body["metadata"].get("deletionTimestamp"):
        _finalize(body, observed)
        return
    finalizers = list(body["metadata"].get("finalizers") or [])
    if FINALIZER not in finalizers:
        objects.merge_patch(Ref.of(body), {"metadata": {"finalizers": [*finalizers, FINALIZER]}})
    rollouts = [seen.body for _name, seen in latest(kwargs["rollout_index"])]
    _reconcile(body, observed, catalogue_of(kwargs["catalogue_index"]), rollouts)


def _reconcile(
    body: dict[str, Any],
    observed: Observed,
    catalogue: Catalogue,
    rollouts: list[dict[str, Any]],
) -> None:
    generation = body["metadata"].get("generation")
    spec, errors = parse_spec(MunicipalityTenantSpec, body.get("spec") or {})
    if spec is not None:
        errors = tenant_errors(spec, catalogue)
    conditions = validation_conditions(
        existing_conditions(body.get("status")),
        errors,
        generation=generation,
        now=now(),
        ready_when_valid=False,
    )
    if spec is None or errors:
        # Nothing is applied or pruned while the spec is invalid: what runs keeps running.
        _write(body, conditions, {})
        return
    versions = assignments_for(body["metadata"]["name"], rollouts)
    plan = plan_tenant(body, spec, catalogue, rollout_versions=versions)
    conflict = _namespace_conflict(plan.namespace, body["metadata"]["name"], observed)
    if conflict:
        conditions = validation_conditions(
            conditions,
            [FieldError("spec.namespace", conflict)],
            generation=generation,
            now=now(),
            ready_when_valid=False,
        )
        _write(body, conditions, {})
        return
    labels = body["metadata"].get("labels") or {}
    if any(labels.get(k) != v for k, v in plan.labels.items()):
        objects.merge_patch(Ref.of(body), {"metadata": {"labels": plan.labels}})
    if not in_sync(plan.namespace_object, observed.get(Ref.of(plan.namespace_object))):
        objects.apply(plan.namespace_object)
    apply_all([*plan.children, *plan.installations], observed)
    name = body["metadata"]["name"]
    wanted = {Ref.of(o) for o in [*plan.children, *plan.installations]}
    stale = [
        Ref.of(o) for o in observed.tenant_children(plan.namespace, name) if Ref.of(o) not in wanted
    ]
    stale += [
        Ref.of(o)
        for o in observed.installations(plan.namespace).values()
        if Ref.of(o) not in wanted and (o["spec"].get("tenant") == name)
    ]
    prune(stale)
    summaries = summarise(spec, observed.installations(plan.namespace))
    conditions = tenant_conditions(conditions, summaries, generation=generation, now=now())
    ready = sum(1 for s in summaries if s.ready)
    _write(
        body,
        conditions,
        {
            "namespace": plan.namespace,
            "components": [s.wire() for s in summaries],
            "componentsReady": f"{ready}/{len(summaries)}",
        },
    )


def _namespace_conflict(namespace: str, tenant: str, observed: Observed) -> str | None:
    """A namespace that someone else owns is never taken over (nor, later, deleted)."""
    ours = observed.get(Ref("v1", "Namespace", "", namespace))
    if ours is not None:
        owner = (ours["metadata"].get("labels") or {}).get(LABEL_TENANT)
        if owner == tenant:
            return None
        return f"namespace {namespace!r} belongs to tenant {owner!r}"
    if objects.get(Ref("v1", "Namespace", "", namespace)) is not None:
        return f"namespace {namespace!r} exists and is not managed by cg-operator"
    return None


def _write(body: dict[str, Any], conditions: list[Any], extra: dict[str, Any]) -> None:
    patch = status_patch(body.get("status"), conditions, body["metadata"].get("generation"), extra)
    if patch is not None:
        patch_status(PLURAL, body["metadata"]["name"], patch)


def _finalize(body: dict[str, Any], observed: Observed) -> None:
    """Delete the installations (each keeps or removes its data), then the namespace for
    deletionPolicy Delete; Retain leaves the namespace and its data, labelled retained."""
    name = body["metadata"]["name"]
    spec = body.get("spec") or {}
    namespace = (body.get("status") or {}).get("namespace")
    if namespace:
        remaining = [
            o for o in observed.installations(namespace).values() if o["spec"].get("tenant") == name
        ]
        if remaining:
            prune([Ref.of(o) for o in remaining if not o["metadata"].get("deletionTimestamp")])
            return  # their deletion events bring us back here
        ns_ref = Ref("v1", "Namespace", "", namespace)
        if spec.get("deletionPolicy") == DeletionPolicy.DELETE.value:
            objects.delete(ns_ref)
        else:
            objects.merge_patch(ns_ref, {"metadata": {"labels": {LABEL_RETAINED: "true"}}})
    finalizers = [f for f in body["metadata"].get("finalizers") or [] if f != FINALIZER]
    objects.merge_patch(Ref.of(body), {"metadata": {"finalizers": finalizers or None}})


@kopf.on.event(GROUP, VERSION, PLURAL)
async def tenant_event(*, type: str, name: str, **kwargs: Any) -> None:
    """A tenant changed: reconcile it. The echo of its own status write counts too: a pass reads
    kopf's index, which can lag that write (handlers/echoes.py)."""
    FIRST_EVENTS.saw(PLURAL, None, name)
    if type != "DELETED":
        enqueue_tenant(name, kwargs)
