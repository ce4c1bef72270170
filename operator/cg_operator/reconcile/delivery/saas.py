"""SaaS delivery: a binding to the supplier's hosted instance for this municipality. Pure.

The children are a Service of type ExternalName (so dependents address it like any other
component) and the binding Secret; Ready means bound, Healthy is the endpoint's health path.
"""

from __future__ import annotations

from urllib.parse import urljoin, urlparse

from cg_operator.api.component import Offering, OfferingType
from cg_operator.api.installation import ComponentInstallationSpec
from cg_operator.api.tenant import slugify
from cg_operator.reconcile.children import binding_secret_name, installation_labels, with_owner
from cg_operator.reconcile.delivery.base import (
    BINDING_KEYS,
    HealthRequest,
    InstallationPlan,
    PlanRequest,
    Readiness,
    binding_data,
)
from cg_operator.reconcile.health import HealthTarget
from cg_operator.reconcile.validation import FieldError
from cg_operator.render.environment import render


def endpoint_for(
    offering: Offering, spec: ComponentInstallationSpec
) -> tuple[str, FieldError | None]:
    """The SaaS endpoint with the municipality filled in, checked against the allowed hosts."""
    assert offering.saas is not None
    code = spec.municipality.code
    url = (
        offering.saas.endpoint_template.replace("{CODE}", code)
        .replace("{code}", code.lower())
        .replace("{slug}", slugify(spec.municipality.name))
    )
    host = urlparse(url).hostname or ""
    if not offering.saas.allows(host):
        return url, FieldError(
            "spec.offering",
            f"endpoint host {host!r} of offering {offering.name!r} is not in its allowedHosts "
            f"({', '.join(offering.saas.allowed_hosts)})",
        )
    return url, None


def _missing_credentials(request: PlanRequest) -> list[str]:
    """The credentials Secret the subscription names, when it does not exist: a binding
    without its credentials must not be written (nor read as 'no credentials needed')."""
    ref = request.spec.credentials_secret_ref
    if ref is None or (request.secret_keys or {}).get(ref.name) is not None:
        return []
    return [f"spec.credentialsSecretRef: Secret {ref.name!r} does not exist"]


class SaasDelivery:
    """A binding to a hosted instance."""

    type = OfferingType.SAAS
    has_workloads = False

    def plan(self, request: PlanRequest) -> InstallationPlan:
        """The ExternalName Service and the binding Secret (credentials first, so that they
        can never override the connection keys)."""
        spec, offering = request.spec, request.offering
        assert offering.saas is not None
        name, namespace = spec.component, request.namespace
        endpoint, error = endpoint_for(offering, spec)
        binding = binding_secret_name(name)
        if error is not None:
            return InstallationPlan(
                self.type, [], [], request.dependencies, endpoint, binding, [error]
            )
        parsed = urlparse(endpoint)
        host = parsed.hostname or ""
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        labels = installation_labels(spec.tenant, request.installation["metadata"]["name"])
        data = {
            **{k: v for k, v in (request.credentials or {}).items() if k not in BINDING_KEYS},
            **binding_data(name, offering, endpoint, host, port),
        }
        secret = render(
            "secret.yaml.j2",
            name=binding,
            namespace=namespace,
            labels=labels,
            secret_type="servicebinding.io/" + name,
            data=data,
        )[0]
        service = render(
            "service.yaml.j2", name=name, namespace=namespace, labels=labels, external_name=host
        )[0]
        return InstallationPlan(
            self.type,
            with_owner([service, secret], request.installation),
            [],
            request.dependencies,
            endpoint,
            binding,
            missing=_missing_credentials(request),
        )

    def readiness(self, plan: InstallationPlan, workloads: tuple[bool, str]) -> Readiness:
        """Bound as soon as the binding is written; the supplier's health is Healthy's job."""
        return Readiness(True, "BindingReady", f"bound to {plan.endpoint}")

    def health_target(self, request: HealthRequest) -> tuple[HealthTarget | None, str]:
        """The endpoint's health path, only on the offering's allowed hosts."""
        offering = request.offering
        assert offering is not None
        assert offering.saas is not None
        url = urljoin(request.endpoint, offering.saas.health_path.lstrip("/"))
        return HealthTarget(url, self.type, tuple(offering.saas.allowed_hosts)), ""
