"""Condition helpers: set a condition the way the Kubernetes API conventions say. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from cg_operator.api.base import Condition, ConditionStatus

READY = "Ready"
RECONCILING = "Reconciling"
STALLED = "Stalled"

# Reasons, CamelCase, shared by every kind.
REASON_INVALID_SPEC = "InvalidSpec"
REASON_VALID = "Valid"
# A tenant's approval that approves no rollout (reconcile/validation.unmatched_approvals).
REASON_UNMATCHED_APPROVAL = "UnmatchedApproval"


def set_condition(
    conditions: Sequence[Condition],
    *,
    type_: str,
    status: ConditionStatus,
    reason: str,
    message: str,
    generation: int | None,
    now: datetime,
) -> list[Condition]:
    """Return conditions with `type_` set; lastTransitionTime only moves when status changes."""
    previous = find(conditions, type_)
    since = previous.last_transition_time if previous and previous.status == status else now
    updated = Condition(
        type=type_,
        status=status,
        reason=reason,
        message=message,
        last_transition_time=since,
        observed_generation=generation,
    )
    others = [c for c in conditions if c.type != type_]
    return (
        [*others, updated]
        if previous is None
        else [updated if c.type == type_ else c for c in conditions]
    )


def remove_condition(conditions: Sequence[Condition], type_: str) -> list[Condition]:
    """Return conditions without `type_`."""
    return [c for c in conditions if c.type != type_]


def find(conditions: Sequence[Condition], type_: str) -> Condition | None:
    """The condition of this type, or None."""
    return next((c for c in conditions if c.type == type_), None)


def is_true(conditions: Sequence[Condition], type_: str) -> bool:
    """True when the condition exists with status True."""
    found = find(conditions, type_)
    return found is not None and found.status == "True"
