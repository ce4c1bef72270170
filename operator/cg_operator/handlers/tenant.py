"""MunicipalityTenant handlers."""

from __future__ import annotations

from typing import Any

import kopf

from cg_operator.api.constants import GROUP, VERSION
from cg_operator.api.tenant import MunicipalityTenantSpec
from cg_operator.handlers.catalogue import Seen, catalogue_of
from cg_operator.handlers.validate import validate_and_report
from cg_operator.reconcile.validation import Catalogue, tenant_errors


def validate_tenant(seen: Seen, catalogue: Catalogue) -> MunicipalityTenantSpec | None:
    """Report InvalidSpec when a subscription does not match the catalogue."""
    return validate_and_report(
        plural="municipalitytenants",
        seen=seen,
        model=MunicipalityTenantSpec,
        cross_checks=lambda spec: tenant_errors(spec, catalogue),
        ready_when_valid=False,
    )


@kopf.on.event(GROUP, VERSION, "municipalitytenants")
def tenant_event(*, type: str, body: kopf.Body, **kwargs: Any) -> None:
    """A tenant changed: validate it against the catalogue."""
    if type != "DELETED":
        validate_tenant(Seen.of(body), catalogue_of(kwargs["catalogue_index"]))
