"""ComponentInstallation: one component for one municipality, in the tenant namespace (`cgi`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from cg_operator.api.base import (
    DnsLabel,
    LocalSecretReference,
    Model,
    ObjectStatus,
    VersionString,
    immutable,
    rules,
)
from cg_operator.api.component import OfferingType
from cg_operator.api.tenant import BackingServices, DeletionPolicy, Municipality


class ComponentInstallationSpec(Model):
    """What to install; written by the operator from the tenant's subscription."""

    tenant: Annotated[DnsLabel, Field(json_schema_extra=rules(immutable("tenant")))]
    """The MunicipalityTenant that owns this installation; immutable."""
    municipality: Municipality
    """The municipality, copied from the tenant for templates and endpoints."""
    component: Annotated[DnsLabel, Field(json_schema_extra=rules(immutable("component")))]
    """The CGComponent; immutable."""
    offering: DnsLabel
    """The offering that delivers it."""
    version: VersionString
    """The version to run."""
    values: Annotated[dict[str, Annotated[str, Field(max_length=4096)]], Field(max_length=64)] = (
        Field(default_factory=dict)
    )
    """Non-secret settings, passed as environment."""
    credentials_secret_ref: LocalSecretReference | None = None
    """The SaaS credentials Secret in this namespace."""
    backing_services: BackingServices | None = None
    """Where PostgreSQL and Redis come from."""
    deletion_policy: DeletionPolicy = DeletionPolicy.RETAIN
    """The tenant's deletionPolicy: whether PVCs and database Secrets go when this does."""


class InventoryEntry(Model):
    """A child object the operator applied for this installation."""

    api_version: Annotated[str, Field(max_length=128)]
    """Its apiVersion."""
    kind: Annotated[str, Field(max_length=64)]
    """Its kind."""
    name: Annotated[str, Field(max_length=253)]
    """Its name (in the installation's namespace)."""


class ProbeResult(Model):
    """The last health probe."""

    time: datetime
    """When it ran."""
    healthy: bool
    """Whether it passed."""
    reason: Annotated[str, Field(max_length=128)] = ""
    """Why it failed (or Skipped and why)."""
    latency_ms: Annotated[int, Field(ge=0)] | None = None
    """How long the request took."""
    status_code: Annotated[int, Field(ge=0, le=999)] | None = None
    """The HTTP status code."""
    certificate_expires: datetime | None = None
    """When the endpoint's TLS certificate expires."""


class ComponentInstallationStatus(ObjectStatus):
    """Observed state of an installation."""

    delivery: OfferingType | None = None
    """Container or SaaS."""
    observed_version: Annotated[str, Field(max_length=64)] | None = None
    """The version that actually runs (rolled out and available), not just the desired one."""
    endpoint: Annotated[str, Field(max_length=512)] | None = None
    """The component's API root as its consumers reach it."""
    binding_secret_name: Annotated[str, Field(max_length=253)] | None = None
    """The Secret with the connection details (servicebinding.io layout)."""
    inventory: Annotated[list[InventoryEntry], Field(max_length=64)] = Field(default_factory=list)
    """Every child object applied, so that the ones no longer wanted can be pruned."""
    last_probe: ProbeResult | None = None
    """The last health probe."""
