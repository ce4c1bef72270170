"""MunicipalityTenant: one municipality and its subscriptions (cluster-scoped, short `mt`)."""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, ConfigDict, Field, model_validator

from cg_operator.api.base import (
    NAME_MAX,
    ONE_LINE,
    DnsLabel,
    LocalSecretKeyReference,
    LocalSecretReference,
    Model,
    Name,
    ObjectStatus,
    Quantity,
    VersionString,
    immutable,
    rule,
    rules,
)

MUNICIPALITY_CODE = r"^GM[0-9]{4}$"
VALUE_KEY = r"^[A-Za-z_][A-Za-z0-9_]*$"
HOSTNAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$"
# A public DNS name of at least two labels, e.g. zaken.amsterdam.nl.
Hostname = Annotated[str, Field(max_length=253, pattern=HOSTNAME)]
ValueKey = Annotated[str, Field(max_length=128, pattern=VALUE_KEY)]
# Variables that make an interpreter, loader or HTTP client run or load what they name: a
# tenant editor who may set them could run code in containers that hold database and SaaS
# secrets. Refused in values at admission (RE2 and Python read this pattern alike).
FORBIDDEN_VALUE_KEY = (
    r"^(LD_[A-Za-z0-9_]*|PYTHON[A-Za-z0-9_]*|PERL5[A-Za-z0-9_]*|RUBYOPT|RUBYLIB|NODE_OPTIONS"
    r"|JAVA_TOOL_OPTIONS|_JAVA_OPTIONS|JDK_JAVA_OPTIONS|JAVA_OPTS|CATALINA_OPTS|BROWSER"
    r"|DJANGO_SETTINGS_MODULE|BASH_ENV|ENV|PATH|HOME|GCONV_PATH|SSL_CERT_FILE|SSL_CERT_DIR"
    r"|REQUESTS_CA_BUNDLE|CURL_CA_BUNDLE|HTTPS?_PROXY|https?_proxy|ALL_PROXY|all_proxy"
    r"|NO_PROXY|no_proxy)$"
)


def _no_forbidden_keys(values: dict[str, str]) -> dict[str, str]:
    forbidden = sorted(k for k in values if re.match(FORBIDDEN_VALUE_KEY, k))
    if forbidden:
        raise ValueError(
            f"values may not set {', '.join(forbidden)}: interpreter, loader and proxy "
            "variables are refused"
        )
    return values


Values = Annotated[
    dict[ValueKey, Annotated[str, Field(max_length=4096, pattern=ONE_LINE)]],
    Field(
        max_length=64,
        json_schema_extra=rules(
            rule(
                "self.all(k, k.matches('" + VALUE_KEY + "'))",
                "values keys must be environment variable names ([A-Za-z_][A-Za-z0-9_]*)",
            ),
            rule(
                "self.all(k, !k.matches('" + FORBIDDEN_VALUE_KEY + "'))",
                "values may not set interpreter, loader or proxy variables (LD_*, PYTHON*, "
                "JAVA_TOOL_OPTIONS, NODE_OPTIONS, DJANGO_SETTINGS_MODULE, PATH, *_PROXY, ...)",
            ),
        ),
    ),
    AfterValidator(_no_forbidden_keys),
]
"""Non-secret settings for one component, passed as environment: only those its catalogue
entry declares (`container.settings`), never over the catalogue's own."""


class UpgradePolicy(StrEnum):
    """How a tenant takes new versions from rollouts."""

    AUTO = "Auto"
    APPROVE = "Approve"
    PIN = "Pin"


class DeletionPolicy(StrEnum):
    """What happens to a tenant's data when it or a subscription goes away."""

    RETAIN = "Retain"
    DELETE = "Delete"


class BackingServiceMode(StrEnum):
    """Where a tenant's PostgreSQL, Redis, ... come from."""

    EMBEDDED = "Embedded"
    EXTERNAL = "External"


class Municipality(Model):
    """The municipality (gemeente) this tenant is."""

    name: Name
    """Its name as CBS spells it, e.g. 's-Gravenhage; may change (spelling, mergers keep codes)."""
    code: Annotated[
        str,
        Field(
            pattern=MUNICIPALITY_CODE,
            min_length=6,
            max_length=6,
            json_schema_extra=rules(immutable("municipality.code")),
        ),
    ]
    """The CBS municipality code, GM followed by four digits (e.g. GM0363); immutable."""


class Quota(Model):
    """Compute and object limits for the tenant namespace (a ResourceQuota and a LimitRange)."""

    requests_cpu: Quantity | None = None
    """Total CPU requests, e.g. "8"."""
    requests_memory: Quantity | None = None
    """Total memory requests, e.g. 16Gi."""
    limits_cpu: Quantity | None = None
    """Total CPU limits."""
    limits_memory: Quantity | None = None
    """Total memory limits."""
    requests_storage: Quantity | None = None
    """Total storage of PersistentVolumeClaims."""
    persistent_volume_claims: Annotated[int, Field(ge=0, le=10000)] | None = None
    """Number of PersistentVolumeClaims."""
    pods: Annotated[int, Field(ge=0, le=10000)] | None = None
    """Number of pods."""
    default_container_cpu: Quantity | None = None
    """LimitRange default CPU request for containers that set none."""
    default_container_memory: Quantity | None = None
    """LimitRange default memory request for containers that set none."""


def _cidr(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError as invalid:
        raise ValueError(f"must be a CIDR such as 203.0.113.0/24: {invalid}") from None
    return value


Cidr = Annotated[
    str,
    Field(
        max_length=64,
        json_schema_extra=rules(rule("isCIDR(self)", "must be a CIDR such as 203.0.113.0/24")),
    ),
    AfterValidator(_cidr),
]


class Network(Model):
    """Network rules on top of the default deny: what may reach the tenant and what it may reach."""

    ingress_from_namespaces: Annotated[list[DnsLabel], Field(max_length=32)] = Field(
        default_factory=list, json_schema_extra={"x-kubernetes-list-type": "set"}
    )
    """Namespaces (e.g. the ingress controller's) allowed to reach the tenant's components."""
    egress_cidrs: Annotated[list[Cidr], Field(max_length=32)] = Field(
        default_factory=list,
        alias="egressCIDRs",
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )
    """Networks outside the cluster the components may call (SaaS suppliers, BRP, ...)."""


class BackingServiceBinding(Model):
    """Where one backing service of a subscription comes from."""

    model_config = ConfigDict(
        json_schema_extra=rules(
            rule(
                "self.mode == 'External' ? has(self.secretRef) : !has(self.secretRef)",
                "secretRef is required for mode External and not allowed for Embedded",
                ".secretRef",
            )
        )
    )

    mode: BackingServiceMode = BackingServiceMode.EMBEDDED
    """Embedded runs a StatefulSet in the tenant namespace; External uses secretRef."""
    secret_ref: LocalSecretReference | None = None
    """For External: a Secret in the tenant namespace with host, port, database, username and
    password (or uri)."""

    @model_validator(mode="after")
    def _secret_matches_mode(self) -> BackingServiceBinding:
        if (self.mode is BackingServiceMode.EXTERNAL) != (self.secret_ref is not None):
            raise ValueError("secretRef is required for mode External and not allowed for Embedded")
        return self


class BackingServices(Model):
    """Per service type, where the subscription's backing service comes from."""

    postgresql: BackingServiceBinding | None = None
    """PostgreSQL (with PostGIS where the component needs it)."""
    redis: BackingServiceBinding | None = None
    """Redis."""
    rabbitmq: BackingServiceBinding | None = None
    """RabbitMQ."""
    elasticsearch: BackingServiceBinding | None = None
    """Elasticsearch."""
    solr: BackingServiceBinding | None = None
    """Solr."""


class ApprovedRollout(Model):
    """A tenant's approval of one rollout: of that component to that version, so that a rollout
    deleted and created again under the same name with another target is not approved."""

    name: DnsLabel
    """The ComponentRollout."""
    component: DnsLabel
    """The component it moves."""
    version: VersionString
    """The version it moves to."""

    def approves(self, name: str, component: str, version: str) -> bool:
        """Whether this approval covers a rollout with this name, component and target."""
        return (self.name, self.component, self.version) == (name, component, version)


class SecretValue(Model):
    """A secret setting of a subscription, taken from a key of a Secret in the tenant's
    namespace (e.g. an OIDC client secret the municipality got from its identity provider)."""

    name: ValueKey
    """The setting, one of the component's tenantSecrets in the catalogue."""
    secret_key_ref: LocalSecretKeyReference
    """The Secret and key holding it."""


class Subscription(Model):
    """A component the municipality uses."""

    name: DnsLabel
    """The CGComponent's name."""
    offering: DnsLabel
    """Which of the component's offerings (Container or SaaS) delivers it."""
    version: VersionString | None = None
    """Pin this version; unset follows rollouts, else the catalogue's defaultVersion."""
    values: Values = Field(default_factory=dict)
    """Non-secret settings for this municipality, passed to the component as environment:
    only the settings its catalogue entry declares."""
    credentials_secret_ref: LocalSecretReference | None = None
    """A Secret in the tenant namespace with the SaaS credentials (never inline)."""
    backing_services: BackingServices | None = None
    """Where PostgreSQL and Redis come from; default Embedded."""
    secret_values: Annotated[list[SecretValue], Field(max_length=32)] = Field(
        default_factory=list,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    """Secret settings from Secrets in the tenant namespace (the component's tenantSecrets)."""
    host: Hostname | None = None
    """The public host it is exposed at, when its catalogue entry is exposed; default
    <alias>.<domain> (zaken.amsterdam.nl). Must lie under the tenant's domain or a domain the
    platform allows."""
    hostnames: Annotated[list[Hostname], Field(max_length=8)] = Field(
        default_factory=list, json_schema_extra={"x-kubernetes-list-type": "set"}
    )
    """Further host names the component answers to (added to its allowed hosts), e.g. a
    name an external reverse proxy sends."""


class MunicipalityTenantSpec(Model):
    """A municipality on the platform: its namespace, limits, policies and subscriptions."""

    model_config = ConfigDict(
        json_schema_extra=rules(
            rule(
                "has(self.__namespace__) == has(oldSelf.__namespace__) && "
                "(!has(self.__namespace__) || self.__namespace__ == oldSelf.__namespace__)",
                "namespace cannot be set, changed or removed after creation",
                ".namespace",
            )
        )
    )

    municipality: Municipality
    """The municipality; its code is immutable."""
    domain: Hostname | None = None
    """The municipality's domain, e.g. amsterdam.nl: exposed components get
    <alias>.<domain> (zaken.amsterdam.nl). Unset: nothing is exposed by default."""
    ring: DnsLabel = "volger"
    """The rollout ring, mirrored to the label appstore.commonground.nl/ring: koploper,
    vroege-volger, volger, ..."""
    namespace: DnsLabel | None = None
    """The tenant namespace; default derived from the code and name, e.g. gm0363-amsterdam.
    Once given, it stays the tenant's namespace: renaming the municipality does not move it."""
    quota: Quota | None = None
    """Limits for the namespace."""
    network: Network = Field(default_factory=Network)
    """Network rules on top of a default deny."""
    upgrade_policy: UpgradePolicy = UpgradePolicy.AUTO
    """Auto follows rollouts, Approve waits for the tenant's approval, Pin never moves."""
    approved_rollouts: Annotated[list[ApprovedRollout], Field(max_length=32)] = Field(
        default_factory=list,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    """Rollouts this tenant approves (upgradePolicy Approve), each by name, component and target
    version: only a rollout matching all three may move it."""
    deletion_policy: DeletionPolicy = DeletionPolicy.RETAIN
    """Retain keeps data (PVCs, database Secrets) when things are removed; Delete removes it."""
    components: Annotated[list[Subscription], Field(max_length=64)] = Field(
        default_factory=list,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    """The subscribed components, each at most once."""

    def target_namespace(self) -> str:
        """The namespace the tenant lives in: spec.namespace or the derived default."""
        return self.namespace or default_namespace(self.municipality.code, self.municipality.name)


def slugify(name: str) -> str:
    """A DNS-label-safe slug of a municipality name: 's-Gravenhage -> s-gravenhage."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")


def default_namespace(code: str, name: str) -> str:
    """gm<code>-<slug>, cut to a valid DNS label: GM0363 Amsterdam -> gm0363-amsterdam."""
    return f"{code.lower()}-{slugify(name)}"[:NAME_MAX].rstrip("-")


class ComponentSummary(Model):
    """One subscription as the tenant sees it."""

    name: DnsLabel
    """The component."""
    offering: Annotated[str, Field(max_length=NAME_MAX)] = ""
    """The offering."""
    delivery: Annotated[str, Field(max_length=16)] = ""
    """Container or SaaS."""
    version: Annotated[str, Field(max_length=64)] = ""
    """The version it runs (observed)."""
    ready: bool = False
    """Its installation is Ready."""
    healthy: bool | None = None
    """Its last health probe passed; unset until probed."""
    reason: Annotated[str, Field(max_length=128)] = ""
    """Why it is not Ready or not Healthy."""
    message: Annotated[str, Field(max_length=1024)] = ""
    """The details, as the installation reports them."""


class MunicipalityTenantStatus(ObjectStatus):
    """Observed state of a municipality tenant."""

    namespace: Annotated[str, Field(max_length=NAME_MAX)] | None = None
    """The namespace in use."""
    components: Annotated[list[ComponentSummary], Field(max_length=64)] = Field(
        default_factory=list
    )
    """Every subscription with its version, readiness, health and the reason when not ready."""
    components_ready: Annotated[str, Field(max_length=16)] | None = None
    """Ready subscriptions out of all, e.g. 3/4 (for the printer column)."""
    shard: Annotated[str, Field(max_length=63)] | None = None
    """The operator shard that wrote this tenant last: a shard the tenant moved to waits until
    the previous one hands it over by naming the new one here. Unset without shards."""
