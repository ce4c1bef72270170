"""Plan a MunicipalityTenant: its namespace, guard rails and one installation per subscription.

Pure: (tenant, catalogue, observed installations) -> desired objects and status.
"""

from __future__ import annotations

import base64
import ipaddress
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, Literal

from cg_operator.api.base import Condition
from cg_operator.api.component import CGComponentSpec
from cg_operator.api.conditions import (
    READY,
    REASON_UNMATCHED_APPROVAL,
    RECONCILING,
    remove_condition,
    set_condition,
)
from cg_operator.api.constants import (
    FINALIZER,
    LABEL_COMPONENT_ROLE,
    LABEL_MUNICIPALITY,
    LABEL_RING,
    LABEL_TENANT,
    METADATA_ADDRESSES,
)
from cg_operator.api.tenant import (
    ComponentSummary,
    MunicipalityTenantSpec,
    Quota,
    UpgradePolicy,
)
from cg_operator.reconcile.children import tenant_labels, with_owner
from cg_operator.reconcile.configuration import CREDENTIAL_KEY, CREDENTIALS_ROLE
from cg_operator.reconcile.exposure import tenant_hosts
from cg_operator.reconcile.status import write_now_because
from cg_operator.reconcile.validation import Catalogue, FieldError, summary
from cg_operator.render.environment import render

WORKLOAD_SERVICE_ACCOUNT = "cg-workload"
_QUOTA_KEYS = {
    "requests_cpu": "requests.cpu",
    "requests_memory": "requests.memory",
    "limits_cpu": "limits.cpu",
    "limits_memory": "limits.memory",
    "requests_storage": "requests.storage",
    "persistent_volume_claims": "persistentvolumeclaims",
    "pods": "pods",
}


@dataclass(frozen=True)
class TenantPlan:
    """What the tenant should look like."""

    namespace: str
    namespace_object: dict[str, Any]
    children: list[dict[str, Any]]
    installations: list[dict[str, Any]]
    labels: dict[str, str] = field(default_factory=dict)


def namespace_labels(name: str, spec: MunicipalityTenantSpec) -> dict[str, str]:
    """The tenant namespace's labels: who it belongs to, and restricted Pod Security."""
    return {
        **tenant_labels(name),
        LABEL_RING: spec.ring,
        LABEL_MUNICIPALITY: spec.municipality.code,
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/audit": "restricted",
    }


def quota_hard(quota: Quota | None) -> dict[str, str]:
    """ResourceQuota.spec.hard from spec.quota."""
    if quota is None:
        return {}
    out = {}
    for attribute, key in _QUOTA_KEYS.items():
        value = getattr(quota, attribute)
        if value is not None:
            out[key] = str(value)
    return out


def default_request(quota: Quota | None) -> dict[str, str]:
    """LimitRange defaults for containers that set no resources."""
    if quota is None:
        return {}
    out = {}
    if quota.default_container_cpu:
        out["cpu"] = quota.default_container_cpu
    if quota.default_container_memory:
        out["memory"] = quota.default_container_memory
    return out


def desired_version(
    subscription_version: str | None,
    component: str,
    catalogue: Catalogue,
    rollout_versions: Mapping[str, str],
    *,
    policy: UpgradePolicy = UpgradePolicy.AUTO,
    current: str | None = None,
) -> str:
    """The version a subscription runs. Its own pin wins, then the version a rollout moved
    this tenant to (rollouts respect Pin and Approve themselves). Otherwise a new subscription
    starts on the catalogue's default, and one that runs (`current`) keeps running unless the
    default moves it: only under upgradePolicy Auto, and never backwards. So changing the
    catalogue's defaultVersion, or deleting a finished rollout, never moves a Pin or Approve
    tenant and never downgrades anyone."""
    if subscription_version:
        return subscription_version
    if component in rollout_versions:
        return rollout_versions[component]
    entry = catalogue[component]
    default = entry.default_version
    if not current or entry.version(current) is None:
        return default
    if policy is not UpgradePolicy.AUTO or is_older(default, current, entry):
        return current
    return default


def is_older(version: str, than: str, component: CGComponentSpec) -> bool:
    """Whether `version` comes before `than`: by their numbers where both start with numbers
    (1.9.0 < 1.10.0), else by their order in the catalogue entry's versions list."""
    left, right = _numbers(version), _numbers(than)
    if left and right and left != right:
        return left < right
    order = [v.version for v in component.versions]
    if version in order and than in order:
        return order.index(version) < order.index(than)
    return False


def _numbers(version: str) -> tuple[int, ...]:
    """The leading dotted numbers of a version: 1.29.1 -> (1, 29, 1); release-1.0.x -> ()."""
    found = re.match(r"^v?(\d+(?:\.\d+)*)", version)
    return tuple(int(n) for n in found.group(1).split(".")) if found else ()


def assigned_namespace(
    spec: MunicipalityTenantSpec, recorded: str | None, labelled: Collection[str]
) -> str:
    """The tenant's namespace: the one it was given, not one a changed spec would derive.

    The default namespace is derived from the municipality's name, which may change (spelling,
    mergers). Once a namespace carries the tenant's label and the tenant's status recorded it, it
    stays the tenant's namespace: a rename never moves a municipality to empty databases. Both
    must agree, so neither a forged status (pointing at a namespace not labelled for this
    tenant) nor a label on some other namespace redirects the tenant."""
    if recorded and recorded in labelled:
        return recorded
    return spec.target_namespace()


class ClaimState(Enum):
    """Whether a tenant may use a namespace."""

    OURS = "ours"
    ABSENT = "absent"
    TAKEN = "taken"


def namespace_claim(
    tenant: str, namespace: str, live: Mapping[str, Any] | None
) -> tuple[ClaimState, str]:
    """(state, reason) of a tenant's claim on a namespace, from the live namespace or None.

    Only a namespace labelled for this tenant is ours: one labelled for another tenant, or not
    made by the operator at all, is never taken over (nor, later, deleted)."""
    if live is None:
        return ClaimState.ABSENT, ""
    owner = (live.get("metadata", {}).get("labels") or {}).get(LABEL_TENANT)
    if owner == tenant:
        return ClaimState.OURS, ""
    if owner:
        return ClaimState.TAKEN, f"namespace {namespace!r} belongs to tenant {owner!r}"
    return ClaimState.TAKEN, f"namespace {namespace!r} exists and is not managed by cg-operator"


def egress_blocks(cidrs: Iterable[str]) -> list[tuple[str, list[str]]]:
    """Each egress CIDR with the cloud metadata addresses inside it cut out (`except`): a
    tenant opening 0.0.0.0/0 for its suppliers must not reach the node's credentials."""
    out = []
    for cidr in cidrs:
        network = ipaddress.ip_network(cidr, strict=False)
        excluded = [
            f"{address}/{address.max_prefixlen}"
            for address in map(ipaddress.ip_address, METADATA_ADDRESSES)
            if address.version == network.version
            and address in network
            and network.prefixlen < address.max_prefixlen
        ]
        out.append((cidr, excluded))
    return out


def plan_tenant(
    tenant: Mapping[str, Any],
    spec: MunicipalityTenantSpec,
    catalogue: Catalogue,
    rollout_versions: Mapping[str, str] | None = None,
    namespace: str | None = None,
    *,
    current_versions: Mapping[str, str] | None = None,
    credentials: Mapping[str, str] | None = None,
) -> TenantPlan:
    """Desired namespace, quota, network policies, service account, credentials and
    installations, in `namespace` (the assigned one; default: the one the spec derives).
    `current_versions`: component -> the version its installation is set to now (see
    desired_version). `credentials`: credential Secret name -> its value (kept or fresh; see
    reconcile/configuration)."""
    name = tenant["metadata"]["name"]
    namespace = namespace or spec.target_namespace()
    labels = tenant_labels(name)
    namespace_object = render(
        "namespace.yaml.j2", name=namespace, labels=namespace_labels(name, spec)
    )[0]
    children = [
        *render(
            "quota.yaml.j2",
            namespace=namespace,
            labels=labels,
            hard=quota_hard(spec.quota),
            default_request=default_request(spec.quota),
        ),
        *render(
            "networkpolicies.yaml.j2",
            namespace=namespace,
            labels=labels,
            ingress_namespaces=list(spec.network.ingress_from_namespaces),
            egress_cidrs=egress_blocks(spec.network.egress_cidrs),
            role_label=LABEL_COMPONENT_ROLE,
        ),
        *render(
            "serviceaccount.yaml.j2",
            name=WORKLOAD_SERVICE_ACCOUNT,
            namespace=namespace,
            labels=labels,
        ),
    ]
    for secret_name, value in sorted((credentials or {}).items()):
        children += render(
            "secret.yaml.j2",
            name=secret_name,
            namespace=namespace,
            labels={**labels, LABEL_COMPONENT_ROLE: CREDENTIALS_ROLE},
            secret_type="Opaque",  # noqa: S106 - a Secret type, not a password
            data={CREDENTIAL_KEY: base64.b64encode(value.encode()).decode()},
        )
    installations = []
    hosts = tenant_hosts(spec, catalogue)
    for index, subscription in enumerate(spec.components):
        version = desired_version(
            subscription.version,
            subscription.name,
            catalogue,
            rollout_versions or {},
            policy=spec.upgrade_policy,
            current=(current_versions or {}).get(subscription.name),
        )
        cgi_spec = {
            "tenant": name,
            "municipality": spec.municipality.wire(),
            "component": subscription.name,
            "offering": subscription.offering,
            "version": version,
            "deletionPolicy": spec.deletion_policy.value,
        }
        # Only when there are any: an empty map is sent as null, which the schema refuses.
        if subscription.values:
            cgi_spec["values"] = dict(subscription.values)
        if subscription.credentials_secret_ref:
            cgi_spec["credentialsSecretRef"] = subscription.credentials_secret_ref.wire()
        if subscription.backing_services:
            cgi_spec["backingServices"] = subscription.backing_services.wire()
        if subscription.secret_values:
            cgi_spec["secretValues"] = [v.wire() for v in subscription.secret_values]
        if subscription.hostnames:
            cgi_spec["hostnames"] = list(subscription.hostnames)
        if index in hosts:
            cgi_spec["host"] = hosts[index]
        installations += render(
            "installation.yaml.j2",
            name=subscription.name,
            namespace=namespace,
            # The ring on each installation lets the catalogue count adoption by ring
            # (reconcile/adoption) and a user select a ring: `kubectl get cgi -A -l ...ring=`.
            labels={**labels, LABEL_RING: spec.ring},
            # Created with the installation's finalizer, so its first pass need not add it
            # (one write less per installation); it still adds it to one made by hand.
            finalizers=[FINALIZER],
            spec=cgi_spec,
        )
    return TenantPlan(
        namespace=namespace,
        # Not owned by the tenant: with deletionPolicy Retain the namespace and its data outlive
        # it; the tenant's finalizer removes the namespace only for Delete.
        namespace_object=namespace_object,
        children=with_owner(children, tenant),
        installations=with_owner(installations, tenant),
        labels={LABEL_RING: spec.ring},
    )


def own_metadata_patch(
    metadata: Mapping[str, Any], labels: Mapping[str, str], finalizer: str
) -> dict[str, Any] | None:
    """The one merge patch of a tenant's own metadata a pass makes: the operator's finalizer
    (before anything of the tenant is made, so its removal cleans up) and the labels its plan
    wants (its ring, read by rollouts); None when both are there."""
    patch: dict[str, Any] = {}
    finalizers = list(metadata.get("finalizers") or [])
    if finalizer not in finalizers:
        patch["finalizers"] = [*finalizers, finalizer]
    have = metadata.get("labels") or {}
    if any(have.get(key) != value for key, value in labels.items()):
        patch["labels"] = dict(labels)
    return {"metadata": patch} if patch else None


def summarise(
    spec: MunicipalityTenantSpec, installations: Mapping[str, Mapping[str, Any]]
) -> list[ComponentSummary]:
    """One line per subscription from its installation's status."""
    out = []
    for subscription in spec.components:
        live = installations.get(subscription.name)
        status = (live or {}).get("status") or {}
        conditions = {c.get("type"): c for c in status.get("conditions") or []}
        ready = conditions.get(READY, {})
        healthy = conditions.get("Healthy")
        reason, message = "", ""
        if live is None:
            reason, message = "Pending", "the installation has not been created yet"
        elif ready.get("status") != "True":
            reason = ready.get("reason") or "Pending"
            message = ready.get("message") or "waiting for the installation to report"
        out.append(
            ComponentSummary(
                name=subscription.name,
                offering=subscription.offering,
                delivery=status.get("delivery") or "",
                version=status.get("observedVersion") or "",
                ready=ready.get("status") == "True",
                healthy=None if healthy is None else healthy.get("status") == "True",
                reason=reason,
                message=message[:1024],
            )
        )
    return out


# A tenant's status fields a reader acts on at once: the namespace it claimed (its installations
# are admitted by it), the shard writing it (handlers/shards) and the spec it reflects. Its
# summaries (components, componentsReady, messages) are progress; Ready is always at once.
TENANT_IMMEDIATE_FIELDS = ("observedGeneration", "namespace", "shard")


def tenant_status_write_cause(
    current: Mapping[str, Any] | None, patch: Mapping[str, Any]
) -> str | None:
    """Why a tenant's status write goes out at once (reconcile/status.write_now_because), None
    when it may be held for a while (handlers/status_pacing): it only moves the summary of its
    installations' progress."""
    return write_now_because(current, patch, TENANT_IMMEDIATE_FIELDS)


def tenant_conditions(
    conditions: list[Condition],
    summaries: list[ComponentSummary],
    *,
    generation: int | None,
    now: datetime,
    unmatched: Sequence[FieldError] = (),
) -> list[Condition]:
    """Ready when every subscription's installation is Ready and every approval approves
    something (`unmatched`: validation.unmatched_approvals); else say which are not. Healthy
    rolls up the installations' health the same way. An unmatched approval blocks nothing: the
    subscriptions are applied as usual, and the tenant says what to fix."""
    conditions = _healthy_condition(conditions, summaries, generation=generation, now=now)
    waiting = [s for s in summaries if not s.ready]
    if not waiting and unmatched:
        return set_condition(
            conditions,
            type_=READY,
            status="False",
            reason=REASON_UNMATCHED_APPROVAL,
            message=summary(list(unmatched)),
            generation=generation,
            now=now,
        )
    if waiting:
        names = ", ".join(f"{s.name} ({s.reason})" for s in waiting[:6])
        more = f" and {len(waiting) - 6} more" if len(waiting) > 6 else ""
        message = f"{len(waiting)} of {len(summaries)} components not Ready: {names}{more}"
        if unmatched:
            message += "; " + summary(list(unmatched))
        conditions = set_condition(
            conditions,
            type_=READY,
            status="False",
            reason="ComponentsNotReady",
            message=message,
            generation=generation,
            now=now,
        )
        return set_condition(
            conditions,
            type_=RECONCILING,
            status="True",
            reason="ComponentsNotReady",
            message=message,
            generation=generation,
            now=now,
        )
    conditions = remove_condition(conditions, RECONCILING)
    return set_condition(
        conditions,
        type_=READY,
        status="True",
        reason="AllComponentsReady",
        message=f"all {len(summaries)} components are Ready",
        generation=generation,
        now=now,
    )


def _healthy_condition(
    conditions: list[Condition],
    summaries: list[ComponentSummary],
    *,
    generation: int | None,
    now: datetime,
) -> list[Condition]:
    """False naming the unhealthy installations; Unknown while some are not judged yet; True
    when every one is healthy."""
    status: Literal["True", "False", "Unknown"]
    unhealthy = [s.name for s in summaries if s.healthy is False]
    unknown = [s.name for s in summaries if s.healthy is None]
    if unhealthy:
        status, reason = "False", "ComponentsUnhealthy"
        message = f"{len(unhealthy)} of {len(summaries)} unhealthy: {', '.join(unhealthy[:6])}"
    elif unknown:
        status, reason = "Unknown", "HealthUnknown"
        message = f"health not known yet for {', '.join(unknown[:6])}"
    else:
        status, reason = "True", "AllComponentsHealthy"
        message = f"all {len(summaries)} components are healthy"
    return set_condition(
        conditions,
        type_="Healthy",
        status=status,
        reason=reason,
        message=message,
        generation=generation,
        now=now,
    )
