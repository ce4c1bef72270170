"""Spec validation beyond the schema: the same models, plus rules that span objects. Pure.

The CRD schema rejects most bad input at admission. What it cannot see (a subscription naming a
component or version that is not in the catalogue, a requires cycle, ...) is found here and
reported as Ready=False with reason InvalidSpec and a message naming the field.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlparse

from pydantic import BaseModel, ValidationError

from cg_operator.api.component import CGComponentSpec, Lifecycle, OfferingType, SaaSAuthType
from cg_operator.api.rollout import ComponentRolloutSpec
from cg_operator.api.tenant import MunicipalityTenantSpec, Subscription
from cg_operator.reconcile.configuration import configuration_errors

M = TypeVar("M", bound=BaseModel)
Catalogue = Mapping[str, CGComponentSpec]


@dataclass(frozen=True)
class FieldError:
    """One problem with a spec: the field path as the API server prints it, and what is wrong."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def summary(errors: list[FieldError], limit: int = 5) -> str:
    """One message for a condition: the first few errors, and how many more there are."""
    shown = "; ".join(str(e) for e in errors[:limit])
    more = len(errors) - limit
    return f"{shown} (and {more} more)" if more > 0 else shown


def _path(location: tuple[int | str, ...]) -> str:
    out = "spec"
    for part in location:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def parse_spec(model: type[M], spec: Mapping[str, Any]) -> tuple[M | None, list[FieldError]]:
    """Validate a stored spec with its model; errors name the field (spec.components[0].name)."""
    try:
        return model.model_validate(dict(spec)), []
    except ValidationError as invalid:
        errors = []
        for error in invalid.errors(include_url=False):
            # Model validators raise at the model's own level; pydantic adds no location then.
            message = str(error["msg"]).removeprefix("Value error, ")
            errors.append(FieldError(_path(tuple(error["loc"])), message))
        return None, errors


ENDPOINT_PLACEHOLDERS = {"code": "gm0000", "CODE": "GM0000", "slug": "gemeente"}


def saas_errors(spec: CGComponentSpec) -> list[FieldError]:
    """Each SaaS endpoint template uses only the known placeholders, and for any municipality
    its host is one of the offering's own allowedHosts."""
    errors = []
    for index, offering in enumerate(spec.offerings):
        if offering.saas is None:
            continue
        field = f"spec.offerings[{index}].saas.endpointTemplate"
        template = offering.saas.endpoint_template
        unknown = sorted(set(re.findall(r"\{([^}]*)\}", template)) - set(ENDPOINT_PLACEHOLDERS))
        if unknown:
            known = ", ".join(f"{{{p}}}" for p in ENDPOINT_PLACEHOLDERS)
            errors.append(
                FieldError(field, f"unknown placeholder {{{unknown[0]}}}; allowed: {known}")
            )
            continue
        url = template
        for placeholder, sample in ENDPOINT_PLACEHOLDERS.items():
            url = url.replace(f"{{{placeholder}}}", sample)
        host = urlparse(url).hostname or ""
        if not offering.saas.allows(host):
            errors.append(
                FieldError(
                    field,
                    f"its host {host!r} is not in the offering's allowedHosts "
                    f"({', '.join(offering.saas.allowed_hosts)})",
                )
            )
    return errors


def component_errors(name: str, spec: CGComponentSpec, catalogue: Catalogue) -> list[FieldError]:
    """Requirements must name existing components and must not form a cycle; SaaS endpoints
    must stay within their allowed hosts."""
    errors = saas_errors(spec)
    for index, requirement in enumerate(spec.requires):
        field = f"spec.requires[{index}].component"
        if requirement.component == name:
            errors.append(FieldError(field, f"{name!r} cannot require itself"))
        elif requirement.component not in catalogue:
            errors.append(FieldError(field, f"no CGComponent named {requirement.component!r}"))
    errors += _configuration_errors(spec)
    cycle = _cycle_through(name, {**catalogue, name: spec})
    if cycle and len(cycle) > 2:
        errors.append(
            FieldError("spec.requires", "requirements form a cycle: " + " -> ".join(cycle))
        )
    return errors


def _configuration_errors(spec: CGComponentSpec) -> list[FieldError]:
    """Each version's configuration must be YAML that can run and name in `data` only
    components it requires. A part for a component not in the catalogue is no error: it
    applies only while a municipality subscribes to that component, so until then never."""
    required = {r.component for r in spec.requires if not r.optional}
    errors = []
    for i, version in enumerate(spec.versions):
        config = version.container.configuration if version.container else None
        if config is None:
            continue
        field = f"spec.versions[{i}].container.configuration"
        errors += [FieldError(f, m) for f, m in configuration_errors(config, required, field)]
    return errors


def _cycle_through(start: str, catalogue: Catalogue) -> list[str]:
    """A requirement path from start back to start, or [] (depth-first, ignores unknown names).
    Optional requirements wait for nothing, so they make no cycle."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        current, path = stack.pop()
        spec = catalogue.get(current)
        if spec is None:
            continue
        for requirement in spec.requires:
            if requirement.optional:
                continue
            if requirement.component == start:
                return [*path, start]
            if requirement.component not in seen:
                seen.add(requirement.component)
                stack.append((requirement.component, [*path, requirement.component]))
    return []


def _unused_backing_services(
    field: str, subscription: Subscription, component: CGComponentSpec
) -> list[FieldError]:
    """Settings for a backing service no version of the component uses: a mistake (usually
    the wrong subscription), and never read."""
    if subscription.backing_services is None:
        return []
    used = {
        s.type.value.lower()
        for v in component.versions
        if v.container is not None
        for s in v.container.backing_services
    }
    given = subscription.backing_services.model_dump(exclude_none=True)
    return [
        FieldError(
            f"{field}.backingServices.{key}",
            f"{subscription.name!r} uses no {key} (it uses: {', '.join(sorted(used)) or 'none'})",
        )
        for key in sorted(given)
        if key not in used
    ]


def tenant_errors(spec: MunicipalityTenantSpec, catalogue: Catalogue) -> list[FieldError]:
    """Each subscription must name a catalogue component, one of its offerings and versions."""
    errors: list[FieldError] = []
    for index, subscription in enumerate(spec.components):
        field = f"spec.components[{index}]"
        component = catalogue.get(subscription.name)
        if component is None:
            errors.append(
                FieldError(f"{field}.name", f"no CGComponent named {subscription.name!r}")
            )
            continue
        if component.lifecycle is Lifecycle.OBSOLETE:
            errors.append(
                FieldError(f"{field}.name", f"{subscription.name!r} is Obsolete in the catalogue")
            )
        offering = component.offering(subscription.offering)
        if offering is None:
            allowed = ", ".join(o.name for o in component.offerings)
            errors.append(
                FieldError(
                    f"{field}.offering",
                    f"{subscription.name!r} has no offering {subscription.offering!r} "
                    f"(allowed: {allowed})",
                )
            )
        elif (
            offering.type is OfferingType.SAAS
            and offering.saas is not None
            and offering.saas.auth.type is not SaaSAuthType.NONE
            and subscription.credentials_secret_ref is None
        ):
            errors.append(
                FieldError(
                    f"{field}.credentialsSecretRef",
                    f"offering {offering.name!r} authenticates with {offering.saas.auth.type}: "
                    "name the Secret that holds the credentials",
                )
            )
        errors += _unused_backing_services(field, subscription, component)
        if subscription.version is not None and component.version(subscription.version) is None:
            known = ", ".join(v.version for v in component.versions)
            errors.append(
                FieldError(
                    f"{field}.version",
                    f"{subscription.name!r} has no version {subscription.version!r} "
                    f"(catalogue: {known})",
                )
            )
    return errors


def rollout_errors(spec: ComponentRolloutSpec, catalogue: Catalogue) -> list[FieldError]:
    """The rollout's component and target version must be in the catalogue."""
    component = catalogue.get(spec.component)
    if component is None:
        return [FieldError("spec.component", f"no CGComponent named {spec.component!r}")]
    if component.version(spec.version) is None:
        known = ", ".join(v.version for v in component.versions)
        return [
            FieldError(
                "spec.version", f"{spec.component!r} has no version {spec.version!r} ({known})"
            )
        ]
    errors = []
    for index, wave in enumerate(spec.approved_waves):
        if wave not in {w.name for w in spec.waves}:
            errors.append(FieldError(f"spec.approvedWaves[{index}]", f"no wave named {wave!r}"))
    return errors


def duplicate_code_errors(
    name: str, code: str, created: str, others: Iterable[tuple[str, str, str]]
) -> list[FieldError]:
    """A municipality is one tenant: of tenants with the same CBS code, the first created
    (then the first by name) keeps it and every later one is refused. `others`: (name, code,
    creationTimestamp) of the other tenants."""
    earlier = sorted(
        (other_created, other)
        for other, other_code, other_created in others
        if other != name and other_code == code and (other_created, other) < (created, name)
    )
    if not earlier:
        return []
    return [
        FieldError(
            "spec.municipality.code",
            f"{code} is already tenant {earlier[0][1]!r}: one tenant per municipality",
        )
    ]


def unmatched_approvals(
    spec: MunicipalityTenantSpec,
    rollouts: Mapping[str, Mapping[str, Any]],
    running: Mapping[str, str],
) -> list[FieldError]:
    """The approvals that approve nothing: naming a rollout that does not exist, or one that
    now moves another component or to another version (deleted and made again). An approval
    whose rollout is gone is fine once the tenant's installation asks for the version it
    approved: that rollout did its work and was cleaned up. `rollouts`: spec by rollout name;
    `running`: the version each of the tenant's installations asks for, by component."""
    problems = []
    for index, approval in enumerate(spec.approved_rollouts):
        where = f"spec.approvedRollouts[{index}]"
        target = rollouts.get(approval.name)
        if target is None:
            if running.get(approval.component) != approval.version:
                problems.append(
                    FieldError(
                        where,
                        f"rollout {approval.name!r} does not exist, and {approval.component} "
                        f"does not run {approval.version}: this approval approves nothing",
                    )
                )
        elif (target.get("component"), target.get("version")) != (
            approval.component,
            approval.version,
        ):
            problems.append(
                FieldError(
                    where,
                    f"rollout {approval.name!r} moves {target.get('component')} to "
                    f"{target.get('version')}, not {approval.component} to {approval.version}: "
                    "this approval does not cover it",
                )
            )
    return problems
