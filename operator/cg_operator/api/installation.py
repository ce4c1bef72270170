"""ComponentInstallation: one component for one municipality, in the tenant namespace (`cgi`)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
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
from cg_operator.api.tenant import (
    BackingServices,
    DeletionPolicy,
    Municipality,
    SecretValue,
    Values,
)


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
    values: Values = Field(default_factory=dict)
    """Non-secret settings, passed as environment."""
    credentials_secret_ref: LocalSecretReference | None = None
    """The SaaS credentials Secret in this namespace."""
    backing_services: BackingServices | None = None
    """Where PostgreSQL and Redis come from."""
    secret_values: Annotated[list[SecretValue], Field(max_length=32)] = Field(
        default_factory=list,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    """Secret settings from Secrets in this namespace."""
    hostnames: Annotated[list[Annotated[str, Field(max_length=253)]], Field(max_length=8)] = Field(
        default_factory=list, json_schema_extra={"x-kubernetes-list-type": "set"}
    )
    """Public host names the component answers to."""
    host: Annotated[str, Field(max_length=253)] | None = None
    """The public host it is exposed at (from the subscription or the tenant's domain); unset:
    not exposed."""
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


class ProbeReason(StrEnum):
    """Why a health probe passed or failed; each failure mode has its own reason."""

    SUCCEEDED = "ProbeSucceeded"
    HTTP_ERROR = "HTTPError"
    REDIRECTED = "Redirected"
    TIMEOUT = "Timeout"
    DNS_FAILURE = "DNSFailure"
    CONNECTION_FAILED = "ConnectionFailed"
    TLS_ERROR = "TLSError"
    CERTIFICATE_EXPIRED = "CertificateExpired"
    HOST_NOT_ALLOWED = "HostNotAllowed"
    ADDRESS_NOT_ALLOWED = "AddressNotAllowed"


class ProbeResult(Model):
    """One HTTP health probe: what was asked, what came back, how long it took."""

    time: datetime
    """When it ran."""
    healthy: bool
    """Whether it passed (a 2xx answer)."""
    reason: ProbeReason
    """ProbeSucceeded, or the failure mode."""
    message: Annotated[str, Field(max_length=1024)] = ""
    """What happened, in a sentence."""
    url: Annotated[str, Field(max_length=1024)] = ""
    """What was probed (through the API server's service proxy: the proxy path)."""
    version: Annotated[str, Field(max_length=64)] = ""
    """The version the installation was asked to run when it was probed: health measured
    after a version change carries the new one."""
    latency_ms: Annotated[int, Field(ge=0)] | None = None
    """How long the request took, in milliseconds."""
    status_code: Annotated[int, Field(ge=0, le=999)] | None = None
    """The HTTP status code, when an answer came."""
    certificate_expires: datetime | None = None
    """When the endpoint's TLS certificate expires (https only)."""

    def outcome(self) -> tuple[bool, str, int | None]:
        """What a change of is worth a status write: pass/fail, reason and status code."""
        return self.healthy, self.reason.value, self.status_code


class ComponentInstallationStatus(ObjectStatus):
    """Observed state of an installation."""

    delivery: OfferingType | None = None
    """Container or SaaS."""
    observed_version: Annotated[str, Field(max_length=64)] | None = None
    """The version that actually runs (rolled out and available), not just the desired one."""
    endpoint: Annotated[str, Field(max_length=512)] | None = None
    """The component's API root as its consumers reach it."""
    url: Annotated[str, Field(max_length=512)] | None = None
    """Where its users reach it from outside the cluster, when it is exposed."""
    binding_secret_name: Annotated[str, Field(max_length=253)] | None = None
    """The Secret with the connection details (servicebinding.io layout)."""
    inventory: Annotated[list[InventoryEntry], Field(max_length=64)] = Field(default_factory=list)
    """Every child object applied, so that the ones no longer wanted can be pruned."""
    last_probe: ProbeResult | None = None
    """The last health probe whose result was recorded: written when the outcome changes and
    at least every probe-status refresh period (see the operator's --probe-status-refresh)."""
    credentials_expire: datetime | None = None
    """When the SaaS credentials expire, from the credentials Secret's
    `appstore.commonground.nl/expires` annotation (for the expiry alert)."""
