"""ComponentRollout handlers."""

from __future__ import annotations

from typing import Any

import kopf

from cg_operator.api.constants import GROUP, VERSION
from cg_operator.api.rollout import ComponentRolloutSpec
from cg_operator.handlers.catalogue import Seen, catalogue_of
from cg_operator.handlers.validate import validate_and_report
from cg_operator.reconcile.validation import Catalogue, rollout_errors


def validate_rollout(seen: Seen, catalogue: Catalogue) -> ComponentRolloutSpec | None:
    """Report InvalidSpec when the component or target version is not in the catalogue."""
    return validate_and_report(
        plural="componentrollouts",
        seen=seen,
        model=ComponentRolloutSpec,
        cross_checks=lambda spec: rollout_errors(spec, catalogue),
        ready_when_valid=False,
    )


@kopf.on.event(GROUP, VERSION, "componentrollouts")
def rollout_event(*, type: str, body: kopf.Body, **kwargs: Any) -> None:
    """A rollout changed: validate it against the catalogue."""
    if type != "DELETED":
        validate_rollout(Seen.of(body), catalogue_of(kwargs["catalogue_index"]))
