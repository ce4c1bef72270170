"""Events that reconcile someone else: an installation's change concerns its dependents and its
tenant; a child's change (drift, a workload becoming available) concerns its owner.

These handlers only name what to reconcile, so they are async: kopf calls them on its event loop
instead of handing every event of every child to its thread pool. They must never block.
"""

from __future__ import annotations

from typing import Any

import kopf

from cg_operator.api.constants import GROUP, LABEL_INSTALLATION, LABEL_TENANT, VERSION
from cg_operator.handlers.catalogue import catalogue_of
from cg_operator.handlers.component import enqueue_component
from cg_operator.handlers.installation import enqueue_installation
from cg_operator.handlers.observed import CHILD_KINDS, Observed
from cg_operator.handlers.rollout import enqueue_rollouts
from cg_operator.handlers.startup_gate import FIRST_EVENTS
from cg_operator.handlers.tenant import enqueue_tenant


@kopf.on.event(GROUP, VERSION, "componentinstallations")
async def installation_event(*, type: str, namespace: str | None, name: str, **kwargs: Any) -> None:
    """An installation changed: reconcile it, its dependents and its tenant's status."""
    assert namespace is not None  # a namespaced kind
    FIRST_EVENTS.saw("componentinstallations", namespace, name)
    if type != "DELETED":
        enqueue_installation(namespace, name, kwargs)
    spec = kwargs["body"].get("spec") or {}
    component = spec.get("component")
    catalogue = catalogue_of(kwargs["catalogue_index"])
    for other, dependent in Observed(kwargs).installations(namespace).items():
        entry = catalogue.get(other)
        if entry is not None and any(r.component == component for r in entry.requires):
            enqueue_installation(namespace, dependent["metadata"]["name"], kwargs)
    if spec.get("tenant"):
        enqueue_tenant(spec["tenant"], kwargs)
    if component:
        enqueue_component(component, kwargs)  # adoption per version
        enqueue_rollouts(kwargs, component)  # progress is gated on what installations run


@kopf.on.event(GROUP, VERSION, "municipalitytenants", id="tenant_rollouts")
async def tenant_rollouts_event(**kwargs: Any) -> None:
    """A tenant changed (labels, approvals, subscriptions): every rollout re-assesses it."""
    enqueue_rollouts(kwargs)


async def _child_event(
    *, namespace: str | None, name: str, labels: kopf.Labels, resource: kopf.Resource, **kwargs: Any
) -> None:
    """A child changed or went away: its owner repairs drift and updates its status."""
    FIRST_EVENTS.saw(resource.plural, namespace, name)
    installation = labels.get(LABEL_INSTALLATION)
    if installation and namespace:
        enqueue_installation(namespace, installation, kwargs)
    elif labels.get(LABEL_TENANT):
        enqueue_tenant(labels[LABEL_TENANT], kwargs)


for _kind in CHILD_KINDS:
    if _kind.kind != "ComponentInstallation":
        kopf.on.event(_kind.group, _kind.version, _kind.plural, id=f"child_{_kind.plural}")(
            _child_event
        )
