"""ComponentRollout handlers: validate, refuse a second rollout of a component while one runs,
run the engine (reconcile/rollout.py), write status once, post events, nudge the tenants whose
version changes, and look again when a bake time or progress deadline ends."""

from __future__ import annotations

import logging
import threading
from collections.abc import Hashable, Mapping
from typing import Any

import kopf

from cg_operator.api.conditions import READY, STALLED, remove_condition, set_condition
from cg_operator.api.constants import GROUP, LABEL_RING, VERSION
from cg_operator.api.kinds import ROLLOUT
from cg_operator.api.refs import Ref
from cg_operator.api.rollout import ComponentRolloutSpec, TenantProgress, WaveProgress
from cg_operator.api.tenant import MunicipalityTenantSpec
from cg_operator.handlers.catalogue import Seen, SeenIndex, catalogue_of, latest
from cg_operator.handlers.echoes import ECHOES
from cg_operator.handlers.observed import Observed, snapshot
from cg_operator.handlers.queue import QUEUE
from cg_operator.handlers.startup_gate import FIRST_EVENTS
from cg_operator.handlers.tenant import enqueue_tenant
from cg_operator.handlers.validate import now, validate_and_report
from cg_operator.k8s import objects
from cg_operator.k8s.client import patch_status
from cg_operator.reconcile.rollout import (
    InstallationView,
    Status,
    TenantView,
    assignments_of,
    is_active,
    step,
)
from cg_operator.reconcile.status import existing_conditions, status_patch
from cg_operator.reconcile.tenant import assigned_namespace
from cg_operator.reconcile.validation import Catalogue, parse_spec, rollout_errors

log = logging.getLogger(__name__)
PLURAL = ROLLOUT.plural
_timers: dict[Hashable, threading.Timer] = {}
_timers_lock = threading.Lock()


def validate_rollout(seen: Seen, catalogue: Catalogue) -> ComponentRolloutSpec | None:
    """Report InvalidSpec when the component or target version is not in the catalogue."""
    return validate_and_report(
        plural=PLURAL,
        seen=seen,
        model=ComponentRolloutSpec,
        cross_checks=lambda spec: rollout_errors(spec, catalogue),
        ready_when_valid=False,
    )


def enqueue_rollout(name: str, kwargs: Mapping[str, Any]) -> None:
    """Ask for a pass over one rollout (coalesced)."""
    QUEUE.add((PLURAL, name), _run, kwargs)


def enqueue_rollouts(kwargs: Mapping[str, Any], component: str | None = None) -> None:
    """Ask for a pass over every rollout (of one component)."""
    index: SeenIndex = kwargs["rollout_index"]
    for name, seen in latest(index):
        if component is None or seen.spec.get("component") == component:
            enqueue_rollout(name, kwargs)


def _run(key: Hashable, kwargs: Mapping[str, Any]) -> None:
    assert isinstance(key, tuple)
    index: SeenIndex = kwargs["rollout_index"]
    name = str(key[1])
    if name in index:
        for seen in snapshot(lambda: list(index[name])):
            reconcile_rollout(seen, kwargs)


def reconcile_rollout(indexed: Seen, kwargs: Mapping[str, Any]) -> None:
    """One pass of one rollout. Its progress lives in its status, so the pass reads the rollout
    from the API server: the watch may not have delivered the previous pass's write yet, and a
    stale status would start a wave or move a tenant twice."""
    live = objects.get(Ref.of(indexed.body))
    if live is None or live["metadata"].get("deletionTimestamp"):
        return
    seen = Seen(body=live)
    spec = validate_rollout(seen, catalogue_of(kwargs["catalogue_index"]))
    if spec is None:
        return
    conditions = existing_conditions(seen.status)
    conflict = _conflict(seen, spec, kwargs["rollout_index"])
    if conflict:
        verdicts: tuple[tuple[str, Status], ...] = ((READY, "False"), (STALLED, "True"))
        for type_, status in verdicts:
            conditions = set_condition(
                conditions,
                type_=type_,
                status=status,
                reason="ConflictingRollout",
                message=conflict,
                generation=seen.generation,
                now=now(),
            )
        _write(seen, conditions, {})
        return
    conditions = remove_condition(conditions, STALLED)
    result = step(
        name=seen.name,
        spec=spec,
        generation=seen.generation,
        conditions=conditions,
        waves=[WaveProgress.model_validate(w) for w in seen.status.get("waves") or []],
        tenants=[TenantProgress.model_validate(t) for t in seen.status.get("tenants") or []],
        views=_views(seen.name, spec.component, spec.version, kwargs),
        now=now(),
    )
    _write(
        seen,
        result.conditions,
        {
            "currentWave": result.current_wave,
            "progress": result.progress,
            "waves": [w.wire() for w in result.waves],
            "tenants": [t.wire() for t in result.tenants],
        },
    )
    for reason, message, warning in result.events:
        objects.post_event(seen.body, reason=reason, message=message, warning=warning)
        log.info("rollout %s: %s", seen.name, message)
    nudge_tenants(result.assignments, spec.component, kwargs)
    _recheck((PLURAL, seen.name), result.recheck.total_seconds() if result.recheck else None)


def _write(seen: Seen, conditions: list[Any], extra: dict[str, Any]) -> None:
    patch = status_patch(seen.status, conditions, seen.generation, extra)
    if patch is not None:
        patch_status(PLURAL, seen.name, patch)


def _conflict(seen: Seen, spec: ComponentRolloutSpec, index: SeenIndex) -> str | None:
    """Why this rollout must wait: an older one for the same component still runs."""
    mine = (str(seen.body["metadata"].get("creationTimestamp") or ""), seen.name)
    for name, other in latest(index):
        if name == seen.name or other.spec.get("component") != spec.component:
            continue
        theirs = (str(other.body["metadata"].get("creationTimestamp") or ""), name)
        if theirs < mine and is_active(other.body):
            return (
                f"rollout {name} of {spec.component} is still running; a second one is refused "
                "until it completes, is rolled back or aborted, or is deleted"
            )
    return None


def _views(
    rollout: str, component: str, version: str, kwargs: Mapping[str, Any]
) -> list[TenantView]:
    """Every valid tenant subscribed to `component`, with its installation as observed."""
    observed = Observed(kwargs)
    views = []
    for _name, seen in latest(kwargs["tenant_index"]):
        spec, errors = parse_spec(MunicipalityTenantSpec, seen.spec)
        if spec is None or errors:
            continue
        subscription = next((s for s in spec.components if s.name == component), None)
        if subscription is None:
            continue
        labels = {**(seen.body["metadata"].get("labels") or {}), LABEL_RING: spec.ring}
        namespace = assigned_namespace(
            spec,
            (seen.body.get("status") or {}).get("namespace"),
            observed.namespaces_of(seen.name),
        )
        live = observed.installations(namespace).get(component)
        views.append(
            TenantView(
                name=seen.name,
                labels=labels,
                policy=spec.upgrade_policy,
                approved=any(
                    a.approves(rollout, component, version) for a in spec.approved_rollouts
                ),
                pinned=subscription.version,
                installation=_installation(live) if live else None,
            )
        )
    return views


def _installation(live: Mapping[str, Any]) -> InstallationView:
    status = live.get("status") or {}
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    ready, healthy = conditions.get("Ready") or {}, conditions.get("Healthy") or {}
    probe = status.get("lastProbe")
    message = ready.get("message") if ready.get("status") != "True" else healthy.get("message")
    return InstallationView(
        version=str((live.get("spec") or {}).get("version") or ""),
        observed_version=str(status.get("observedVersion") or ""),
        generation=int(live["metadata"].get("generation") or 0),
        ready=ready.get("status") == "True",
        healthy=str(healthy.get("status") or ""),
        healthy_generation=healthy.get("observedGeneration"),
        probe_version=str(probe.get("version") or "") if probe else None,
        message=str(message or ""),
    )


def nudge_tenants(
    assignments: Mapping[str, str], component: str, kwargs: Mapping[str, Any]
) -> None:
    """Reconcile the tenants whose installation is not yet asked to run what the rollout wants."""
    observed = Observed(kwargs)
    tenants: SeenIndex = kwargs["tenant_index"]
    for tenant, version in assignments.items():
        for seen in tenants.get(tenant, []):
            namespace = seen.status.get("namespace") or seen.spec.get("namespace") or ""
            live = observed.installations(namespace).get(component) if namespace else None
            if live is None or (live.get("spec") or {}).get("version") != version:
                enqueue_tenant(tenant, kwargs)


def _recheck(key: Hashable, seconds: float | None) -> None:
    """Look at the rollout again after `seconds` (a bake time or deadline ending)."""
    with _timers_lock:
        previous = _timers.pop(key, None)
        if previous is not None:
            previous.cancel()
        if seconds is None:
            return
        timer = threading.Timer(seconds + 1, QUEUE.again, (key,))
        timer.daemon = True
        _timers[key] = timer
        timer.start()


def _wake_approvers(name: str, type_: str, body: kopf.Body, kwargs: Mapping[str, Any]) -> None:
    """Tenants whose approvals name this rollout judge them again (validation
    .unmatched_approvals) when it is made, changed or deleted; the echo of its own status
    write is no reason (handlers/echoes)."""
    key = ("rollout_approvers", name)
    if type_ == "DELETED":
        ECHOES.forget(key)
    elif not ECHOES.acts_on(key, body):
        return
    for tenant, seen in latest(kwargs["tenant_index"]):
        if any(a.get("name") == name for a in seen.spec.get("approvedRollouts") or []):
            enqueue_tenant(tenant, kwargs)


@kopf.on.event(GROUP, VERSION, PLURAL)
def rollout_event(*, type: str, name: str, body: kopf.Body, **kwargs: Any) -> None:
    """A rollout changed: run it, and move the tenants its stored progress assigns."""
    FIRST_EVENTS.saw(PLURAL, None, name)
    _wake_approvers(name, type, body, kwargs)
    if type == "DELETED":
        _recheck((PLURAL, name), None)
        # Its tenants return to what the catalogue or another rollout says.
        for tenant in assignments_of(body):
            enqueue_tenant(tenant, kwargs)
        return
    enqueue_rollout(name, kwargs)
    component = (body.get("spec") or {}).get("component")
    if component:
        nudge_tenants(assignments_of(body), component, kwargs)
