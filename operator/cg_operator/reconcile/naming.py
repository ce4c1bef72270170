"""The names an installation's children take, and their collisions across subscriptions. Pure.

Every child is named after its component: `<component>` (Deployment, Service), and
`<component>-<suffix>` for the config, binding, generated settings, each worker, each embedded
backing service and each Data volume. Two components of one tenant can therefore claim one name
(component `open` with Redis makes `open-redis`; so does a component called `open-redis`), and
one installation would take over the other's objects. Such a pair is refused on the tenant.
"""

from __future__ import annotations

from collections.abc import Iterable

from cg_operator.api.component import CGComponentSpec, VolumeType
from cg_operator.api.tenant import MunicipalityTenantSpec
from cg_operator.reconcile.exposure import EXPOSED_POLICY_SUFFIX, TLS_SECRET_SUFFIX
from cg_operator.reconcile.validation import Catalogue, FieldError

FIXED_SUFFIXES = ("config", "binding", "secrets")


def child_names(name: str, component: CGComponentSpec) -> set[str]:
    """Every name a subscription to `component` may give its children, over all versions."""
    suffixes: set[str] = set(FIXED_SUFFIXES)
    if component.exposure is not None:
        suffixes |= {EXPOSED_POLICY_SUFFIX.lstrip("-"), TLS_SECRET_SUFFIX.lstrip("-")}
    for version in component.versions:
        container = version.container
        if container is None:
            continue
        suffixes |= {w.name for w in container.workers}
        suffixes |= {s.type.value.lower() for s in container.backing_services}
        suffixes |= {v.name for v in container.volumes if v.type is VolumeType.DATA}
        if container.proxy is not None:
            suffixes.add("proxy")
        if container.configuration is not None:
            suffixes.add("configuration")
    return {name, *(f"{name}-{suffix}" for suffix in suffixes)}


def collision_errors(spec: MunicipalityTenantSpec, catalogue: Catalogue) -> list[FieldError]:
    """A subscription whose children would share a name with an earlier subscription's."""
    errors: list[FieldError] = []
    taken: dict[str, str] = {}
    for index, subscription in enumerate(spec.components):
        component = catalogue.get(subscription.name)
        if component is None:
            continue
        names = child_names(subscription.name, component)
        clashes = _clashes(names, taken)
        if clashes:
            other, shared = clashes
            errors.append(
                FieldError(
                    f"spec.components[{index}].name",
                    f"{subscription.name!r} and {other!r} would both name objects "
                    f"{', '.join(sorted(shared))}: one would take over the other's; these two "
                    "components cannot be subscribed together",
                )
            )
            continue
        taken |= dict.fromkeys(names, subscription.name)
    return errors


def _clashes(names: Iterable[str], taken: dict[str, str]) -> tuple[str, set[str]] | None:
    shared = {n for n in names if n in taken}
    if not shared:
        return None
    return taken[min(shared)], shared
