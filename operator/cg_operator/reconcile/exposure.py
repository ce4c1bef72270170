"""Exposure: the public host each subscription gets, who may claim it, and the route (Ingress
or Gateway API HTTPRoute) that brings users to it. Pure: the platform's choices arrive as
`ExposureSettings`, the cluster's answer to "are the Gateway API CRDs installed" included.

A host is `<alias>.<tenant domain>` unless the subscription names one; it must lie under the
tenant's domain or a domain the platform allows, and one host belongs to one tenant: of two
tenants claiming it, the first created keeps it (as with municipality codes).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cg_operator.api.component import PLACEHOLDER, Exposure, OfferingType
from cg_operator.api.constants import LABEL_INSTANCE
from cg_operator.api.tenant import MunicipalityTenantSpec
from cg_operator.reconcile.validation import Catalogue, FieldError
from cg_operator.render.environment import render

CERT_MANAGER_ISSUER = "cert-manager.io/cluster-issuer"
EXPOSED_POLICY_SUFFIX = "-exposed"
TLS_SECRET_SUFFIX = "-tls"  # noqa: S105 - a name suffix
GATEWAY_API = "gateway.networking.k8s.io/v1"
ROUTE_KINDS = frozenset({"Ingress", "HTTPRoute"})


class ExposureMode(StrEnum):
    """What the platform routes public traffic with."""

    NONE = "none"
    INGRESS = "ingress"
    HTTPROUTE = "httproute"


@dataclass(frozen=True)
class GatewayRef:
    """The platform Gateway HTTPRoutes attach to: namespace/name[/listener]."""

    namespace: str
    name: str
    section: str | None = None

    @classmethod
    def parse(cls, text: str) -> GatewayRef:
        """namespace/name or namespace/name/section; a ValueError says what is expected."""
        parts = text.split("/")
        label = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
        if len(parts) not in (2, 3) or not all(label.match(p) for p in parts):
            raise ValueError(
                f"--gateway {text!r}: expected NAMESPACE/NAME or NAMESPACE/NAME/LISTENER"
            )
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else None)

    def parent(self) -> dict[str, str]:
        """The HTTPRoute parentRef."""
        ref = {"group": "gateway.networking.k8s.io", "kind": "Gateway"}
        ref |= {"namespace": self.namespace, "name": self.name}
        return ref | ({"sectionName": self.section} if self.section else {})


@dataclass(frozen=True)
class ExposureSettings:
    """The platform's exposure choices (operator flags / chart values)."""

    mode: ExposureMode = ExposureMode.INGRESS
    ingress_class: str | None = None
    cluster_issuer: str | None = None
    tls_secret: str | None = None
    gateway: GatewayRef | None = None
    # Whether the Gateway's listener serves https (TLS ends there, not in the route).
    gateway_https: bool = True
    extra_domains: tuple[str, ...] = ()
    ingress_namespaces: tuple[str, ...] = ()
    # Whether the route kind is served by the API server (the Gateway API CRDs installed).
    routes_available: bool = True
    probe_public: bool = True

    @property
    def https(self) -> bool:
        """Whether users reach exposed components over https."""
        if self.mode is ExposureMode.HTTPROUTE:
            return self.gateway_https
        return bool(self.cluster_issuer or self.tls_secret)

    @property
    def scheme(self) -> str:
        """http or https."""
        return "https" if self.https else "http"


def tenant_hosts(spec: MunicipalityTenantSpec, catalogue: Catalogue) -> dict[int, str]:
    """Subscription index -> its public host, for the exposed ones."""
    out = {}
    for index, subscription in enumerate(spec.components):
        host = _host_of(
            catalogue, subscription.name, subscription.offering, subscription.host, spec.domain
        )
        if host:
            out[index] = host
    return out


def claimed_hosts(spec: Mapping[str, Any], catalogue: Catalogue) -> set[str]:
    """The hosts a stored tenant spec claims, read without validating it: this runs over
    every other tenant on each pass, where parsing them all would cost more than the pass."""
    domain = spec.get("domain")
    return {
        host
        for subscription in spec.get("components") or []
        if (
            host := _host_of(
                catalogue,
                str(subscription.get("name") or ""),
                str(subscription.get("offering") or ""),
                subscription.get("host"),
                domain,
            )
        )
    }


class HostClaims:
    """`claimed_hosts` of every stored tenant, remembered per tenant. Each tenant's pass reads
    every other tenant's hosts: computed afresh each time, the fleet's passes were quadratic in
    tenants (a restart at N=342 computed 117,000). A tenant's entry holds while its generation
    and the generations of the catalogue entries it read are the ones it was computed from
    (a status write changes neither). Safe to share between the work queue's threads: at worst
    two threads compute the same entry."""

    def __init__(self) -> None:
        self._entries: dict[str, _Claim] = {}

    def of(
        self,
        tenant: Mapping[str, Any],
        catalogue: Catalogue,
        generations: Mapping[str, int | None],
    ) -> frozenset[str]:
        """The hosts `tenant` (a stored body) claims. `generations`: each catalogue entry's
        metadata.generation by name."""
        meta = tenant.get("metadata") or {}
        key = str(meta.get("uid") or meta.get("name"))
        spec = tenant.get("spec") or {}
        entry = self._entries.get(key)
        if entry is not None and entry.holds(meta.get("generation"), generations):
            return entry.hosts
        names = {str(s.get("name") or "") for s in spec.get("components") or []}
        entry = _Claim(
            generation=meta.get("generation"),
            read=tuple(sorted((name, generations.get(name)) for name in names)),
            hosts=frozenset(claimed_hosts(spec, catalogue)),
        )
        self._entries[key] = entry
        return entry.hosts

    def retain(self, tenants: Iterable[Mapping[str, Any]]) -> None:
        """Forget the tenants that are gone."""
        keep = {str((t.get("metadata") or {}).get("uid") or t["metadata"]["name"]) for t in tenants}
        for key in [k for k in self._entries if k not in keep]:
            self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)


@dataclass(frozen=True)
class _Claim:
    generation: int | None
    read: tuple[tuple[str, int | None], ...]
    hosts: frozenset[str]

    def holds(self, generation: int | None, generations: Mapping[str, int | None]) -> bool:
        return generation == self.generation and all(
            generations.get(name) == seen for name, seen in self.read
        )


def _host_of(
    catalogue: Catalogue, name: str, offering_name: str, host: str | None, domain: str | None
) -> str:
    component = catalogue.get(name)
    offering = component.offering(offering_name) if component else None
    if component is None or offering is None or offering.type is not OfferingType.CONTAINER:
        return ""  # a SaaS binding is reached at its supplier's address
    if component.exposure is None:
        return ""
    return host or (f"{component.exposure.alias}.{domain}" if domain else "")


def under(host: str, domain: str) -> bool:
    """Whether host is domain itself or a name below it."""
    return host == domain or host.endswith(f".{domain}")


def host_errors(
    spec: MunicipalityTenantSpec, catalogue: Catalogue, settings: ExposureSettings
) -> list[FieldError]:
    """A subscription's host must be one its component is exposed at, lie under the tenant's
    domain or one the platform allows, and not be another subscription's."""
    errors: list[FieldError] = []
    allowed = [d for d in (spec.domain, *settings.extra_domains) if d]
    hosts = tenant_hosts(spec, catalogue)
    seen: dict[str, str] = {}
    for index, subscription in enumerate(spec.components):
        field_path = f"spec.components[{index}].host"
        component = catalogue.get(subscription.name)
        if subscription.host and component is not None and component.exposure is None:
            errors.append(
                FieldError(field_path, f"{subscription.name!r} is not exposed (in-cluster only)")
            )
            continue
        host = hosts.get(index)
        if not host:
            continue
        if not any(under(host, domain) for domain in allowed):
            names = ", ".join(allowed) or "none: set spec.domain"
            errors.append(
                FieldError(field_path, f"{host} is not under the tenant's domains ({names})")
            )
        elif host in seen:
            errors.append(FieldError(field_path, f"{host} is already the host of {seen[host]!r}"))
        seen.setdefault(host, subscription.name)
    return errors


def taken_hosts(
    name: str,
    created: str,
    mine: Mapping[int, str],
    others: Iterable[tuple[str, str, Iterable[str]]],
) -> dict[int, tuple[str, str]]:
    """A host is one tenant's: of tenants claiming it, the first created (then by name) keeps
    it. Subscription index -> (host, the tenant holding it) for each of this tenant's hosts an
    earlier tenant holds. `others`: (name, creationTimestamp, hosts) of the other tenants."""
    holders: dict[str, tuple[str, str]] = {}
    for other, other_created, hosts in others:
        if other == name or (other_created, other) >= (created, name):
            continue
        for host in hosts:
            holders[host] = min(holders.get(host, (other_created, other)), (other_created, other))
    return {index: (host, holders[host][1]) for index, host in mine.items() if host in holders}


def host_conflict_errors(taken: Mapping[int, tuple[str, str]]) -> list[FieldError]:
    """Each host another tenant holds, naming that tenant."""
    return [
        FieldError(f"spec.components[{index}].host", f"{host} is already {held_by(holder)}")
        for index, (host, holder) in sorted(taken.items())
    ]


def route_admitted(route: Mapping[str, Any] | None) -> bool:
    """Whether a controller has taken the route up: an Ingress with a load balancer address,
    an HTTPRoute a Gateway accepted. Until then users cannot reach it, and probing its public
    URL would only measure DNS."""
    status = (route or {}).get("status") or {}
    if (route or {}).get("kind") == "Ingress":
        return bool((status.get("loadBalancer") or {}).get("ingress"))
    return any(
        c.get("type") == "Accepted" and c.get("status") == "True"
        for parent in status.get("parents") or []
        for c in parent.get("conditions") or []
    )


def held_by(tenant: str) -> str:
    """How a refusal names the tenant holding a host (the holder's changes look for it)."""
    return f"exposed by tenant {tenant!r}"


def public_url(host: str, settings: ExposureSettings) -> str:
    """Where users reach it."""
    return f"{settings.scheme}://{host}/"


def public_env(exposure: Exposure, host: str, settings: ExposureSettings) -> dict[str, str]:
    """The settings the app derives its links and host checks from, composed per entry."""
    values = {
        "host": host,
        "scheme": settings.scheme,
        "origin": f"{settings.scheme}://{host}",
        "https": "True" if settings.https else "False",
    }
    return {
        setting.name: re.sub(PLACEHOLDER, lambda m: values[m.group(1)], setting.value)
        for setting in exposure.env
    }


@dataclass(frozen=True)
class Route:
    """What the route points at: the Service (the proxy's when there is one) and port."""

    service: str
    port: int


def exposure_objects(
    *,
    component: str,
    namespace: str,
    labels: dict[str, str],
    host: str,
    exposure: Exposure,
    route: Route,
    settings: ExposureSettings,
) -> tuple[list[dict[str, Any]], str]:
    """(the route and the policy admitting the ingress controller to it, or why there is no
    route). Nothing is routed with exposure mode none; with HTTPRoute chosen and the Gateway
    API not installed, the reason says so."""
    if settings.mode is ExposureMode.NONE:
        return [], ""
    if not settings.routes_available:
        return [], (
            f"exposure is HTTPRoute but the Gateway API ({GATEWAY_API} httproutes) is not "
            f"installed in the cluster: {host} is not routed"
        )
    common = {"name": component, "namespace": namespace, "labels": labels, "host": host}
    paths = list(exposure.paths)
    if settings.mode is ExposureMode.INGRESS:
        tls_secret = settings.tls_secret or (
            f"{component}{TLS_SECRET_SUFFIX}" if settings.cluster_issuer else None
        )
        annotations = (
            {CERT_MANAGER_ISSUER: settings.cluster_issuer} if settings.cluster_issuer else {}
        )
        objects = render(
            "ingress.yaml.j2",
            **common,
            annotations=annotations,
            ingress_class=settings.ingress_class,
            tls_secret=tls_secret,
            paths=paths,
            service=route.service,
        )
    else:
        assert settings.gateway is not None, "HTTPRoute mode needs a gateway (checked at start)"
        objects = render(
            "httproute.yaml.j2",
            **common,
            parent=settings.gateway.parent(),
            paths=paths,
            service=route.service,
            port=route.port,
        )
    if settings.ingress_namespaces:
        objects += render(
            "networkpolicy-exposed.yaml.j2",
            name=f"{component}{EXPOSED_POLICY_SUFFIX}",
            namespace=namespace,
            labels=labels,
            selector={LABEL_INSTANCE: route.service},
            namespaces=list(settings.ingress_namespaces),
        )
    return objects, ""
