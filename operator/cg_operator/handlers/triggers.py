"""Events that reconcile someone else: an installation's change concerns its dependents and its
tenant; a child's change (drift, a workload becoming available) concerns its owner.

These handlers only name what to reconcile, so they are async: kopf calls them on its event loop
instead of handing every event to its thread pool. They must never block; nor must
`child_changed`, which the children's watches (handlers/informers) call on the same loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kopf

from cg_operator.api.constants import (
    GROUP,
    LABEL_COMPONENT_ROLE,
    LABEL_INSTALLATION,
    LABEL_TENANT,
    VERSION,
)
from cg_operator.api.kinds import INSTALLATION, TENANT
from cg_operator.api.refs import Ref
from cg_operator.handlers.catalogue import catalogue_of
from cg_operator.handlers.component import enqueue_component
from cg_operator.handlers.echoes import ECHOES, TENANT_CHILD_ECHOES
from cg_operator.handlers.installation import enqueue_installation
from cg_operator.handlers.observed import Observed, snapshot
from cg_operator.handlers.queue import PROGRESS_DELAY_SECONDS, SUMMARY_DELAY_SECONDS
from cg_operator.handlers.rollout import enqueue_rollouts
from cg_operator.handlers.startup_gate import FIRST_EVENTS
from cg_operator.handlers.tenant import enqueue_tenant
from cg_operator.reconcile.configuration import CREDENTIALS_ROLE, wired_to


@kopf.on.event(GROUP, VERSION, INSTALLATION.plural)
async def installation_event(
    *, type: str, namespace: str | None, name: str, body: kopf.Body, **kwargs: Any
) -> None:
    """An installation changed: reconcile it (the echo of its own status write too: a pass reads
    kopf's index, which can lag that write), its dependents and its tenant's status."""
    assert namespace is not None  # a namespaced kind
    FIRST_EVENTS.saw(INSTALLATION.plural, namespace, name)
    if type != "DELETED":
        enqueue_installation(namespace, name, kwargs)
    spec = body.get("spec") or {}
    component = spec.get("component")
    catalogue = catalogue_of(kwargs["catalogue_index"])
    for other, dependent in Observed(kwargs).installations(namespace).items():
        entry = catalogue.get(other)
        if entry is not None and component in wired_to(entry):
            enqueue_installation(namespace, dependent["metadata"]["name"], kwargs)
    # The tenant's and the catalogue entry's status sum up many installations: gather changes.
    if spec.get("tenant"):
        enqueue_tenant(spec["tenant"], kwargs, delay=SUMMARY_DELAY_SECONDS)
    if component:
        enqueue_component(component, kwargs, delay=SUMMARY_DELAY_SECONDS)  # adoption
        enqueue_rollouts(kwargs, component)  # progress is gated on what installations run


@kopf.on.event(GROUP, VERSION, TENANT.plural, id="tenant_rollouts")
async def tenant_rollouts_event(*, type: str, name: str, body: kopf.Body, **kwargs: Any) -> None:
    """A tenant changed (labels, approvals, subscriptions): every rollout re-assesses it. A
    rollout reads no tenant status, so the echo of a tenant's status write is not a change."""
    key = ("tenant_rollouts", name)
    if type == "DELETED":
        ECHOES.forget(key)
    if type == "DELETED" or ECHOES.acts_on(key, body):
        enqueue_rollouts(kwargs)


def _in_tenant_namespace(tenant: str, namespace: str | None, kwargs: Any) -> bool:
    """Whether `namespace` is the one the tenant's status records (a dictionary lookup: this
    runs for every child event). A tenant without one yet may be claiming it: yes."""
    index = kwargs["tenant_index"]
    if tenant not in index:
        return False
    recorded = {
        (seen.status or {}).get("namespace") for seen in snapshot(lambda: list(index[tenant]))
    }
    return None in recorded or namespace in recorded


def child_changed(
    type: str, body: Mapping[str, Any], plural: str, kwargs: Mapping[str, Any]
) -> None:
    """A child changed or went away (handlers/informers tells, on kopf's loop): its owner
    repairs drift and updates its status. A tenant reads none of its children's status, so
    their status-only changes do not concern it."""
    meta = body.get("metadata") or {}
    namespace, name = meta.get("namespace"), meta.get("name")
    labels = meta.get("labels") or {}
    installation = labels.get(LABEL_INSTALLATION)
    observed = Observed(kwargs)
    if installation and namespace:
        # Labels are anyone's to set: only an installation that exists there is woken.
        ref = Ref(INSTALLATION.group_version, INSTALLATION.kind, namespace, installation)
        if observed.get(ref) is not None:
            # A workload's rollout is a run of events: one pass and one status write for them.
            enqueue_installation(namespace, installation, kwargs, delay=PROGRESS_DELAY_SECONDS)
    elif labels.get(LABEL_TENANT):
        tenant = labels[LABEL_TENANT]
        where = namespace or (name if plural == "namespaces" else None)
        if type != "DELETED" and not _in_tenant_namespace(tenant, where, kwargs):
            return  # labelled as the tenant's, but not in its namespace: not its child
        key = (plural, namespace, name)
        if type == "DELETED":
            TENANT_CHILD_ECHOES.forget(key)
        if type == "DELETED" or TENANT_CHILD_ECHOES.acts_on(key, body):
            enqueue_tenant(tenant, kwargs)
            if namespace and labels.get(LABEL_COMPONENT_ROLE) == CREDENTIALS_ROLE:
                # A credential made anew (rotated): every configuration reading it runs again.
                for live in observed.installations(namespace).values():
                    enqueue_installation(namespace, live["metadata"]["name"], kwargs)
