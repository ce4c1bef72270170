"""MunicipalityTenant handlers: the namespace, its guard rails, one installation per
subscription, and a status that says per component why it is not Ready."""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Hashable, Mapping
from typing import Any

import kopf

from cg_operator import metrics
from cg_operator.api.constants import FINALIZER, GROUP, LABEL_RETAINED, VERSION
from cg_operator.api.kinds import TENANT
from cg_operator.api.refs import Ref
from cg_operator.api.tenant import DeletionPolicy, MunicipalityTenantSpec
from cg_operator.handlers import exposure as platform_exposure
from cg_operator.handlers import shards
from cg_operator.handlers.catalogue import (
    Seen,
    SeenIndex,
    catalogue_with_generations,
    latest,
)
from cg_operator.handlers.observed import Observed, snapshot
from cg_operator.handlers.queue import QUEUE
from cg_operator.handlers.scope import TENANT_NAMESPACES
from cg_operator.handlers.startup_gate import FIRST_EVENTS
from cg_operator.handlers.status_pacing import StatusPacing
from cg_operator.handlers.sync import apply_all, prune, report_repairs
from cg_operator.handlers.validate import now
from cg_operator.k8s import objects
from cg_operator.k8s.client import patch_status
from cg_operator.reconcile.configuration import (
    CREDENTIAL_KEY,
    credential_pairs,
    credential_secret_name,
    new_credential,
)
from cg_operator.reconcile.diff import stamped
from cg_operator.reconcile.exposure import (
    HostClaims,
    host_conflict_errors,
    host_errors,
    taken_hosts,
    tenant_hosts,
)
from cg_operator.reconcile.naming import collision_errors
from cg_operator.reconcile.rollout import assignments_for
from cg_operator.reconcile.status import (
    WRITE_CAUSE_PROGRESS,
    existing_conditions,
    status_patch,
    validation_conditions,
)
from cg_operator.reconcile.tenant import (
    ClaimState,
    TenantPlan,
    assigned_namespace,
    namespace_claim,
    own_metadata_patch,
    plan_tenant,
    summarise,
    tenant_conditions,
    tenant_status_write_cause,
)
from cg_operator.reconcile.validation import (
    Catalogue,
    FieldError,
    duplicate_code_errors,
    parse_spec,
    tenant_errors,
    unmatched_approvals,
)

log = logging.getLogger(__name__)
PLURAL = TENANT.plural
# Each tenant's held summary change (handlers/status_pacing): its installations come up over
# minutes, and each step of each of them changed the tenant's summary.
STATUS_PACING = StatusPacing()


def enqueue_tenant(name: str, kwargs: Mapping[str, Any], *, delay: float = 0.0) -> None:
    """Ask for a reconcile pass of one tenant (coalesced with pending ones; `delay` gathers
    the changes of its installations into one pass)."""
    QUEUE.add((PLURAL, name), _run, kwargs, delay=delay)


def _run(key: Hashable, kwargs: Mapping[str, Any]) -> None:
    assert isinstance(key, tuple)
    name = str(key[1])
    index: SeenIndex = kwargs["tenant_index"]
    if name not in index:
        STATUS_PACING.forget(name)
        return
    for seen in snapshot(lambda: list(index[name])):
        reconcile_tenant(seen, kwargs)


def reconcile_tenant(seen: Seen, kwargs: Mapping[str, Any]) -> None:
    """One reconcile pass of one tenant (the queue runs one pass per object at a time)."""
    observed = Observed(kwargs)
    body = seen.body
    if body["metadata"].get("deletionTimestamp"):
        _finalize(body, observed)
        return
    _reconcile(body, observed, kwargs)


def _reconcile(body: dict[str, Any], observed: Observed, kwargs: Mapping[str, Any]) -> None:
    catalogue, generations = catalogue_with_generations(kwargs["catalogue_index"])
    rollouts = [seen.body for _name, seen in latest(kwargs["rollout_index"])]
    tenants = [seen.body for _name, seen in latest(kwargs["tenant_index"])]
    generation = body["metadata"].get("generation")
    spec, errors = parse_spec(MunicipalityTenantSpec, body.get("spec") or {})
    if spec is not None:
        errors = [
            *tenant_errors(spec, catalogue),
            *collision_errors(spec, catalogue),
            *duplicate_code_errors(
                body["metadata"]["name"],
                spec.municipality.code,
                str(body["metadata"].get("creationTimestamp") or ""),
                [_code_of(t) for t in tenants],
            ),
            *host_errors(spec, catalogue, platform_exposure.current()),
            *host_conflict_errors(_taken_hosts(body, spec, catalogue, generations, tenants)),
        ]
    conditions = validation_conditions(
        existing_conditions(body.get("status")),
        errors,
        generation=generation,
        now=now(),
        ready_when_valid=False,
    )
    if spec is None or errors:
        # Nothing is applied or pruned while the spec is invalid: what runs keeps running.
        _write(body, conditions, {}, kwargs)
        return
    name = body["metadata"]["name"]
    namespace = assigned_namespace(
        spec, (body.get("status") or {}).get("namespace"), observed.namespaces_of(name)
    )
    versions = assignments_for(name, rollouts)
    current = {
        component: str(live["spec"].get("version") or "")
        for component, live in observed.installations(namespace).items()
    }
    plan = plan_tenant(
        body,
        spec,
        catalogue,
        rollout_versions=versions,
        namespace=namespace,
        current_versions=current,
        credentials=_credentials(namespace, spec, catalogue, observed),
    )
    # The finalizer goes on before the namespace is claimed, with the plan's labels in one write.
    own = own_metadata_patch(body["metadata"], plan.labels, FINALIZER)
    if own is not None and not objects.merge_patch(Ref.of(body), own):
        # Deleted before this pass got here (the index still had it): nothing of it may be
        # made now, or its namespace would outlive it with nobody to remove it.
        return
    conflict = _claim_namespace(plan, name, observed)
    if conflict:
        conditions = validation_conditions(
            conditions,
            [FieldError("spec.namespace", conflict)],
            generation=generation,
            now=now(),
            ready_when_valid=False,
        )
        _write(body, conditions, {}, kwargs)
        return
    apply_all(
        [plan.namespace_object, *plan.children, *_not_terminating(plan.installations, observed)],
        observed,
        on_repair=report_repairs(body),
    )
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
    unmatched = unmatched_approvals(
        spec, {r["metadata"]["name"]: r.get("spec") or {} for r in rollouts}, current
    )
    conditions = tenant_conditions(
        conditions, summaries, generation=generation, now=now(), unmatched=unmatched
    )
    ready = sum(1 for s in summaries if s.ready)
    _write(
        body,
        conditions,
        {
            "namespace": plan.namespace,
            "components": [s.wire() for s in summaries],
            "componentsReady": f"{ready}/{len(summaries)}",
        },
        kwargs,
    )


# The hosts each stored tenant claims, kept between passes (every pass reads every tenant's).
_host_claims = HostClaims()
# Tenant -> the tenants holding hosts it asks for: a change of a holder looks at it again.
_waiting_for_hosts: dict[str, set[str]] = {}
_waiting_lock = threading.Lock()


def _taken_hosts(
    body: Mapping[str, Any],
    spec: MunicipalityTenantSpec,
    catalogue: Catalogue,
    generations: Mapping[str, int | None],
    tenants: list[dict[str, Any]],
) -> dict[int, tuple[str, str]]:
    """This tenant's hosts that earlier tenants hold; remembered until they are free."""
    name = body["metadata"]["name"]
    taken = taken_hosts(
        name,
        str(body["metadata"].get("creationTimestamp") or ""),
        tenant_hosts(spec, catalogue),
        [
            (
                t["metadata"]["name"],
                str(t["metadata"].get("creationTimestamp") or ""),
                _host_claims.of(t, catalogue, generations),
            )
            for t in tenants
        ],
    )
    if len(_host_claims) > len(tenants):
        _host_claims.retain(tenants)
    with _waiting_lock:
        if taken:
            _waiting_for_hosts[name] = {holder for _host, holder in taken.values()}
        else:
            _waiting_for_hosts.pop(name, None)
    return taken


def _waiting_on(holder: str) -> list[str]:
    with _waiting_lock:
        return [name for name, holders in _waiting_for_hosts.items() if holder in holders]


def _credentials(
    namespace: str, spec: MunicipalityTenantSpec, catalogue: Catalogue, observed: Observed
) -> dict[str, str]:
    """Credential Secret name -> value for every pair its subscriptions' configurations read:
    the stored value, or a fresh one for a Secret that does not exist (first time, or deleted
    to rotate it)."""
    subscribed = {s.name: catalogue[s.name] for s in spec.components if s.name in catalogue}
    out = {}
    for client, server in sorted(credential_pairs(subscribed)):
        name = credential_secret_name(client, server)
        live = observed.get(Ref("v1", "Secret", namespace, name))
        stored = ((live or {}).get("data") or {}).get(CREDENTIAL_KEY)
        out[name] = base64.b64decode(stored).decode() if stored else new_credential()
    return out


def _claim_namespace(plan: TenantPlan, tenant: str, observed: Observed) -> str | None:
    """Claim the tenant's namespace atomically: None when it is ours, else why it is not.

    A namespace the watch has not seen is created, never applied: of two tenants naming one
    namespace, the API server lets exactly one create it, and the other then reads the
    winner's label and is refused. (Only the operator's namespaces are watched, so one made by
    someone else also shows up here as a create that finds it taken.)"""
    ref = Ref.of(plan.namespace_object)
    state, reason = namespace_claim(tenant, plan.namespace, observed.get(ref))
    if state is ClaimState.ABSENT:
        if objects.create_if_absent(stamped(plan.namespace_object)):
            state = ClaimState.OURS
        else:
            state, reason = namespace_claim(tenant, plan.namespace, objects.get(ref))
        if state is ClaimState.ABSENT:
            raise RuntimeError(f"namespace {plan.namespace} vanished while being claimed")
    if state is ClaimState.TAKEN:
        return reason
    # In scope before any child is written into it (handlers/scope).
    TENANT_NAMESPACES.admit(plan.namespace)
    return None


def _not_terminating(
    installations: list[dict[str, Any]], observed: Observed
) -> list[dict[str, Any]]:
    """The installations to apply: not one being deleted (by hand, while still subscribed). It
    comes back when it is gone (its deletion asks for this pass); applying it now could only
    try to add back the finalizer its own pass has just removed, which the API server refuses
    for an object being deleted."""
    out = []
    for wanted in installations:
        live = observed.get(Ref.of(wanted))
        if live is None or not live["metadata"].get("deletionTimestamp"):
            out.append(wanted)
    return out


def _write(
    body: dict[str, Any], conditions: list[Any], extra: dict[str, Any], kwargs: Mapping[str, Any]
) -> None:
    """The status, when it changed; a change that only moves the summary of its installations'
    progress once STATUS_PACING has held it for its window (the pass is asked for again then)."""
    name = body["metadata"]["name"]
    extra = {**shards.status_fields(), **extra}
    patch = status_patch(body.get("status"), conditions, body["metadata"].get("generation"), extra)
    cause = tenant_status_write_cause(body.get("status"), patch) if patch is not None else None
    wait = STATUS_PACING.postpone(name, patch, may_wait=patch is not None and cause is None)
    if wait > 0:
        enqueue_tenant(name, kwargs, delay=wait)
    elif patch is not None:
        patch_status(PLURAL, name, patch)
        metrics.STATUS_WRITES.labels(TENANT.kind, cause or WRITE_CAUSE_PROGRESS).inc()


def _finalize(body: dict[str, Any], observed: Observed) -> None:
    """Delete the installations (each keeps or removes its data), then the namespace for
    deletionPolicy Delete; Retain leaves the namespace and its data, labelled retained.

    Only a namespace labelled as this tenant's is touched, checked on a fresh read and deleted
    with that read's resourceVersion as a precondition: neither a status naming another
    namespace nor a label changed in between can make the operator delete someone's data."""
    name = body["metadata"]["name"]
    namespace = _namespace_for_deletion(body, observed)
    if namespace is not None and not _release_namespace(namespace, name, body, observed):
        return  # its installations are still being deleted; their events bring us back here
    finalizers = [f for f in body["metadata"].get("finalizers") or [] if f != FINALIZER]
    objects.merge_patch(Ref.of(body), {"metadata": {"finalizers": finalizers or None}})


def _namespace_for_deletion(body: dict[str, Any], observed: Observed) -> str | None:
    name = body["metadata"]["name"]
    recorded = (body.get("status") or {}).get("namespace")
    labelled = observed.namespaces_of(name)
    spec, _errors = parse_spec(MunicipalityTenantSpec, body.get("spec") or {})
    if spec is not None:
        return assigned_namespace(spec, recorded, labelled)
    return recorded if recorded in labelled else None


def _release_namespace(
    namespace: str, tenant: str, body: dict[str, Any], observed: Observed
) -> bool:
    """Prune the tenant's installations, then delete or keep its namespace; False while
    installations are still going."""
    ref = Ref("v1", "Namespace", "", namespace)
    live = objects.get(ref)
    state, reason = namespace_claim(tenant, namespace, live)
    if state is not ClaimState.OURS or live is None:
        if state is ClaimState.TAKEN:
            log.warning("tenant %s is deleted; %s, so it is left alone", tenant, reason)
        return True
    remaining = [
        o for o in observed.installations(namespace).values() if o["spec"].get("tenant") == tenant
    ]
    if remaining:
        prune([Ref.of(o) for o in remaining if not o["metadata"].get("deletionTimestamp")])
        return False
    if (body.get("spec") or {}).get("deletionPolicy") == DeletionPolicy.DELETE.value:
        meta = live["metadata"]
        objects.delete(
            ref, preconditions={"uid": meta["uid"], "resourceVersion": meta["resourceVersion"]}
        )
    else:
        objects.merge_patch(ref, {"metadata": {"labels": {LABEL_RETAINED: "true"}}})
    return True


def _code_of(body: Mapping[str, Any]) -> tuple[str, str, str]:
    """(name, municipality code, creationTimestamp) of a tenant body."""
    code = ((body.get("spec") or {}).get("municipality") or {}).get("code") or ""
    meta = body["metadata"]
    return meta["name"], str(code), str(meta.get("creationTimestamp") or "")


@kopf.on.event(GROUP, VERSION, PLURAL)
async def tenant_event(*, type: str, name: str, body: kopf.Body, **kwargs: Any) -> None:
    """A tenant changed: reconcile it. The echo of its own status write counts too: a pass reads
    kopf's index, which can lag that write (handlers/echoes.py). A deleted tenant frees its
    municipality code: a later tenant refused for it is looked at again."""
    FIRST_EVENTS.saw(PLURAL, None, name)
    shards.tenant_seen(body)
    # A tenant refused for a host this one holds is looked at again on every change of this
    # one (it may have given the host up).
    for other in _waiting_on(name):
        enqueue_tenant(other, kwargs)
    if type != "DELETED":
        enqueue_tenant(name, kwargs)
        return
    with _waiting_lock:
        _waiting_for_hosts.pop(name, None)
    _, code, _ = _code_of({**body, "metadata": {"name": name}})
    for other, seen in latest(kwargs["tenant_index"]):
        if other != name and _code_of(seen.body)[1] == code:
            enqueue_tenant(other, kwargs)
