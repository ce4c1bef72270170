"""CGComponent handlers: validate catalogue entries and re-check what depends on them."""

from __future__ import annotations

from typing import Any

import kopf

from cg_operator.api.component import CGComponentSpec
from cg_operator.api.constants import GROUP, VERSION
from cg_operator.handlers.catalogue import CatalogueIndex, Seen, SeenIndex, catalogue_of, latest
from cg_operator.handlers.rollout import validate_rollout
from cg_operator.handlers.tenant import validate_tenant
from cg_operator.handlers.validate import validate_and_report
from cg_operator.reconcile.validation import Catalogue, component_errors


def validate_component(seen: Seen, catalogue: Catalogue) -> None:
    """Ready=True when valid and every requirement exists; InvalidSpec otherwise."""
    validate_and_report(
        plural="cgcomponents",
        seen=seen,
        model=CGComponentSpec,
        cross_checks=lambda spec: component_errors(seen.name, spec, catalogue),
        ready_when_valid=True,
    )


@kopf.on.event(GROUP, VERSION, "cgcomponents")
def component_event(*, type: str, name: str, body: kopf.Body, **kwargs: Any) -> None:
    """A catalogue entry changed: check it, then everything whose verdict it can change."""
    catalogue_index: CatalogueIndex = kwargs["catalogue_index"]
    tenant_index: SeenIndex = kwargs["tenant_index"]
    rollout_index: SeenIndex = kwargs["rollout_index"]
    catalogue = catalogue_of(catalogue_index)
    if type != "DELETED":
        validate_component(Seen.of(body), catalogue)
    for other, (seen, _parsed) in latest(catalogue_index):
        if other != name and any(r.get("component") == name for r in seen.spec.get("requires", [])):
            validate_component(seen, catalogue)
    for _tenant, seen in latest(tenant_index):
        if any(s.get("name") == name for s in seen.spec.get("components", [])):
            validate_tenant(seen, catalogue)
    for _rollout, seen in latest(rollout_index):
        if seen.spec.get("component") == name:
            validate_rollout(seen, catalogue)
