"""Plan a ComponentInstallation: its dependencies, then its offering's delivery. Pure.

(installation, catalogue entry, observed dependencies, secrets read by the caller) -> the
desired children, what is data (kept on removal unless deletionPolicy is Delete), and status.
Each delivery type plans itself (reconcile/delivery/); nothing here depends on which it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cg_operator.api.component import CGComponentSpec, OfferingType
from cg_operator.api.conditions import READY
from cg_operator.api.installation import ComponentInstallationSpec
from cg_operator.reconcile.backing import BackingImages
from cg_operator.reconcile.children import binding_secret_name
from cg_operator.reconcile.delivery import delivery_for
from cg_operator.reconcile.delivery.base import (
    SERVICE_PORT,
    WORKLOAD_KINDS,
    Dependencies,
    InstallationPlan,
    PlanRequest,
)
from cg_operator.reconcile.exposure import ExposureSettings
from cg_operator.reconcile.health import HEALTHY
from cg_operator.reconcile.status import condition_status
from cg_operator.reconcile.validation import FieldError

__all__ = [
    "SERVICE_PORT",
    "WORKLOAD_KINDS",
    "Dependencies",
    "InstallationPlan",
    "check_dependencies",
    "plan_installation",
    "serving",
    "tenancy_errors",
]


def check_dependencies(
    component: CGComponentSpec, installations: Mapping[str, Mapping[str, Any] | None]
) -> Dependencies:
    """Every non-optional requirement must be subscribed (an installation exists) and serving
    (`serving`), and one that is `exposed` (optional or not, once subscribed) must have a public
    host."""
    missing, not_ready, hidden = [], [], []
    for requirement in component.requires:
        live = installations.get(requirement.component)
        if live is not None and requirement.exposed and not (live.get("spec") or {}).get("host"):
            hidden.append(requirement.component)
        if requirement.optional:
            continue
        if live is None:
            missing.append(requirement.component)
        elif not serving(live):
            not_ready.append(requirement.component)
    if missing:
        return Dependencies(
            False,
            "MissingDependency",
            f"requires {', '.join(missing)}, which this municipality does not subscribe to",
        )
    if not_ready:
        return Dependencies(
            False, "DependencyNotReady", f"waiting for {', '.join(not_ready)} to become Ready"
        )
    if hidden:
        return Dependencies(
            False,
            "DependencyNotExposed",
            f"requires {', '.join(hidden)} to be reachable from outside the cluster, where "
            "this component sends its users' browsers: give the tenant a domain or the "
            "subscription a host",
        )
    return Dependencies(True)


def serving(live: Mapping[str, Any]) -> bool:
    """Whether a dependency answers its dependents: Ready, or Ready before (it has an
    observedVersion) and moving to a change with its health not False. A rolling update keeps
    the previous pods serving until the new ones are available, and a failed configuration
    after an upgrade leaves the previous one in place, so neither takes the dependents down
    with it; lost workloads at an unchanged version are Healthy=False (WorkloadUnavailable) and
    are waited for. Without this, every dependent of a component flipped to Ready=False and
    back during each of its upgrades: two status writes each, and a false alarm."""
    status = live.get("status") or {}
    if condition_status(status, READY) == "True":
        return True
    return bool(status.get("observedVersion")) and condition_status(status, HEALTHY) in (
        "True",
        "Unknown",
    )


def tenancy_errors(
    tenant: str, namespace: str, *, tenant_exists: bool, namespace_tenant: str | None
) -> list[FieldError]:
    """An installation is reconciled only in its tenant's own namespace: the tenant must exist
    and the namespace must carry that tenant's label (which only the operator sets). Else a
    hand-written installation could deploy into any namespace and copy its Secrets into a
    binding. `namespace_tenant`: the namespace's tenant label, None when it has none."""
    if not tenant_exists:
        return [FieldError("spec.tenant", f"no MunicipalityTenant named {tenant!r}")]
    if namespace_tenant != tenant:
        return [
            FieldError(
                "spec.tenant",
                f"namespace {namespace!r} is not tenant {tenant!r}'s: installations are "
                "reconciled only in their tenant's namespace",
            )
        ]
    return []


def plan_installation(
    installation: Mapping[str, Any],
    spec: ComponentInstallationSpec,
    component: CGComponentSpec,
    installations: Mapping[str, Mapping[str, Any] | None],
    *,
    passwords: Mapping[str, str],
    credentials: Mapping[str, str] | None,
    generated: Mapping[str, str] | None = None,
    secret_keys: Mapping[str, frozenset[str] | None] | None = None,
    rotation: str | None = None,
    cluster_domain: str = "cluster.local",
    exposure: ExposureSettings | None = None,
    backing_images: BackingImages | None = None,
    credential_versions: Mapping[str, str | None] | None = None,
) -> InstallationPlan:
    """The desired children of one installation: its offering's delivery plans them (see
    PlanRequest for what the arguments hold)."""
    offering = component.offering(spec.offering)
    version = component.version(spec.version)
    errors = []
    if offering is None:
        errors.append(
            FieldError("spec.offering", f"no offering {spec.offering!r} in the catalogue")
        )
    if version is None:
        errors.append(FieldError("spec.version", f"no version {spec.version!r} in the catalogue"))
    dependencies = check_dependencies(component, installations)
    if errors or offering is None or version is None:
        binding = binding_secret_name(spec.component)
        return InstallationPlan(OfferingType.CONTAINER, [], [], dependencies, "", binding, errors)
    return delivery_for(offering.type).plan(
        PlanRequest(
            installation=installation,
            spec=spec,
            component=component,
            offering=offering,
            version=version,
            installations=installations,
            dependencies=dependencies,
            passwords=passwords,
            credentials=credentials,
            generated=generated,
            secret_keys=secret_keys,
            rotation=rotation,
            cluster_domain=cluster_domain,
            exposure=exposure or ExposureSettings(),
            backing_images=backing_images or BackingImages(),
            credential_versions=credential_versions or {},
        )
    )
