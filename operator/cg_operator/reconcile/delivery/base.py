"""What every delivery type shares: the plan it produces, what it is given, and the interface
(plan, readiness, health target) each type implements once. Pure."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from cg_operator.api.component import (
    CGComponentSpec,
    ComponentVersion,
    Offering,
    OfferingType,
)
from cg_operator.api.installation import ComponentInstallationSpec
from cg_operator.reconcile.backing import BackingImages
from cg_operator.reconcile.configuration import ConfigurationPlan
from cg_operator.reconcile.exposure import ExposureSettings
from cg_operator.reconcile.health import ContainerProbeMode, HealthTarget
from cg_operator.reconcile.validation import FieldError

SERVICE_PORT = 80
BINDING_KEYS = ("type", "provider", "uri", "host", "port")
WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet"})


@dataclass(frozen=True)
class Dependencies:
    """What the installation waits for: (ready, reason, message)."""

    ready: bool
    reason: str = "AllDependenciesReady"
    message: str = "every required component is Ready"


@dataclass(frozen=True)
class InstallationPlan:
    """The desired state of one installation."""

    delivery: OfferingType
    children: list[dict[str, Any]]
    # Children that hold data: created without an owner (so garbage collection never takes
    # them) and deleted only under deletionPolicy Delete.
    data: list[dict[str, Any]]
    dependencies: Dependencies
    endpoint: str
    binding_secret: str
    errors: list[FieldError] = field(default_factory=list)
    # References to things that do not exist yet (a tenant's Secret or key): nothing new is
    # deployed until they do. One sentence each.
    missing: list[str] = field(default_factory=list)
    # Where users reach it from outside the cluster ("" when not exposed), and why it is not
    # routed there when it should be (the route kind is not installed).
    url: str = ""
    unrouted: str = ""
    # How it is configured once it runs (a catalogue `configuration`), or None.
    configuration: ConfigurationPlan | None = None


@dataclass(frozen=True)
class PlanRequest:
    """Everything a delivery plans from; the caller has read the secrets it needs.
    `passwords`: data Secret name -> password (existing or fresh); `credentials`: the SaaS
    credentials Secret's data (base64), or None; `generated`: the generated settings by name;
    `secret_keys`: the keys of each Secret the subscription's secretValues name (None: absent);
    `rotation`: the rotate-secrets request the generated settings were made for."""

    installation: Mapping[str, Any]
    spec: ComponentInstallationSpec
    component: CGComponentSpec
    offering: Offering
    version: ComponentVersion
    installations: Mapping[str, Mapping[str, Any] | None]
    dependencies: Dependencies
    passwords: Mapping[str, str] = field(default_factory=dict)
    credentials: Mapping[str, str] | None = None
    generated: Mapping[str, str] | None = None
    secret_keys: Mapping[str, frozenset[str] | None] | None = None
    rotation: str | None = None
    cluster_domain: str = "cluster.local"
    exposure: ExposureSettings = field(default_factory=ExposureSettings)
    backing_images: BackingImages = field(default_factory=BackingImages)
    # Credential Secret name -> its uid (None: not made yet), for a catalogue configuration.
    credential_versions: Mapping[str, str | None] = field(default_factory=dict)

    @property
    def namespace(self) -> str:
        """The installation's namespace."""
        return str(self.installation["metadata"]["namespace"])


@dataclass(frozen=True)
class HealthRequest:
    """What a delivery needs to say what to probe. `mode` is already resolved."""

    endpoint: str
    offering: Offering | None
    component: CGComponentSpec
    version: str
    service: str
    namespace: str
    mode: ContainerProbeMode
    service_port: int = SERVICE_PORT
    cluster_domain: str = "cluster.local"


class Readiness(NamedTuple):
    """The Ready condition's status, reason and message."""

    ready: bool
    reason: str
    message: str


class Delivery(Protocol):
    """One way of delivering a component. Everything that differs between delivery types is
    behind these members; nothing else branches on the type."""

    type: OfferingType
    # Whether it runs workloads of its own whose availability Ready and Healthy rest on.
    has_workloads: bool

    def plan(self, request: PlanRequest) -> InstallationPlan:
        """The desired children, data and endpoint."""
        ...

    def readiness(self, plan: InstallationPlan, workloads: tuple[bool, str]) -> Readiness:
        """Ready once everything was applied: from its workloads' availability, or at once."""
        ...

    def health_target(self, request: HealthRequest) -> tuple[HealthTarget | None, str]:
        """What to probe, or (None, why the HTTP probe is skipped)."""
        ...


def b64(value: str) -> str:
    """Secret data encoding."""
    return base64.b64encode(value.encode()).decode()


def binding_data(
    component: str, offering: Offering, uri: str, host: str, port: int
) -> dict[str, str]:
    """The servicebinding.io connection keys of a binding Secret (base64)."""
    return {
        "type": b64(component),
        "provider": b64(offering.delivery_organisation.name),
        "uri": b64(uri),
        "host": b64(host),
        "port": b64(str(port)),
    }
