"""Status computed from validation results: one place per kind decides the conditions. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from cg_operator.api.base import Condition
from cg_operator.api.conditions import (
    READY,
    REASON_INVALID_SPEC,
    REASON_VALID,
    STALLED,
    find,
    remove_condition,
    set_condition,
)
from cg_operator.reconcile.validation import FieldError, summary


def existing_conditions(status: Mapping[str, Any] | None) -> list[Condition]:
    """The conditions stored in status; malformed entries (hand-written) are dropped."""
    out = []
    for raw in (status or {}).get("conditions") or []:
        try:
            out.append(Condition.model_validate(raw))
        except ValidationError:
            continue
    return out


def validation_conditions(
    conditions: list[Condition],
    errors: list[FieldError],
    *,
    generation: int | None,
    now: datetime,
    ready_when_valid: bool,
) -> list[Condition]:
    """Ready/Stalled for a validation outcome.

    Invalid: Ready=False and Stalled=True, reason InvalidSpec, naming the fields: nothing will
    change until someone edits the spec. Valid: Stalled goes; Ready becomes True when the kind has
    nothing more to do than be valid (catalogue entries), else an InvalidSpec Ready is withdrawn
    so that reconciliation can own it.
    """
    if errors:
        message = "invalid spec: " + summary(errors)
        return stalled(conditions, REASON_INVALID_SPEC, message, generation=generation, now=now)
    conditions = remove_condition(conditions, STALLED)
    if ready_when_valid:
        return set_condition(
            conditions,
            type_=READY,
            status="True",
            reason=REASON_VALID,
            message="the catalogue entry is valid and its requirements exist",
            generation=generation,
            now=now,
        )
    ready = find(conditions, READY)
    if ready is not None and ready.reason == REASON_INVALID_SPEC:
        conditions = remove_condition(conditions, READY)
    return conditions


REASON_RECONCILE_ERROR = "ReconcileError"
# Failed passes in a row before an object is reported stalled: a conflict or a timeout that
# the next pass overcomes is not news; the same failure three times (after 1 + 2 s of backoff)
# is a poison object a person has to look at.
STALL_AFTER_FAILURES = 3


def failure_conditions(
    conditions: list[Condition], message: str, *, generation: int | None, now: datetime
) -> list[Condition]:
    """Ready=False and Stalled=True, reason ReconcileError: passes keep failing (and are retried
    with backoff); the message says why. The next successful pass replaces both."""
    return stalled(conditions, REASON_RECONCILE_ERROR, message, generation=generation, now=now)


def stalled(
    conditions: list[Condition],
    reason: str,
    message: str,
    *,
    generation: int | None,
    now: datetime,
) -> list[Condition]:
    """Ready=False and Stalled=True, both with this reason and message."""
    for type_ in (READY, STALLED):
        conditions = set_condition(
            conditions,
            type_=type_,
            status="False" if type_ == READY else "True",
            reason=reason,
            message=message,
            generation=generation,
            now=now,
        )
    return conditions


def status_patch(
    current: Mapping[str, Any] | None,
    conditions: list[Condition],
    generation: int | None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any] | None:
    """The merge patch for status, or None when nothing would change (a no-op writes nothing).

    `extra` holds the kind's own status fields; a field set to None is removed."""
    wanted = {
        "observedGeneration": generation,
        "conditions": [c.wire() for c in conditions],
        **(extra or {}),
    }
    current = current or {}
    if all(_same(current.get(key), value) for key, value in wanted.items()):
        return None
    return wanted


# What a status write is made for at once, whatever the pacing: Ready's status (rollouts,
# summaries and people wait for it), what the spec is reconciled to and the version that runs.
IMMEDIATE_FIELDS = ("observedGeneration", "observedVersion")


def progress_only(
    current: Mapping[str, Any] | None,
    patch: Mapping[str, Any],
    immediate: Sequence[str] = IMMEDIATE_FIELDS,
) -> bool:
    """Whether a status patch only moves progress a reader may see a few seconds late: a
    status is stored already, Ready keeps its status and none of `immediate` (the fields of the
    kind a reader acts on; an installation's by default) changes (messages, reasons, other
    conditions, summaries, lastProbe and the inventory may wait). The caller adds its own rule
    for events.

    The inventory may wait because the pass that holds it keeps it in memory, and pruning reads
    the held inventory in place of the stored one (handlers/status_pacing): a child applied by a
    held pass is still disposed of, and one disposed of by it is not disposed of again."""
    return write_now_because(current, patch, immediate) is None


def write_now_because(
    current: Mapping[str, Any] | None,
    patch: Mapping[str, Any],
    immediate: Sequence[str] = IMMEDIATE_FIELDS,
) -> str | None:
    """Why a status patch is written at once (see progress_only), or None when it may wait:
    "first" (no status stored), "Ready" or the name of an `immediate` field. The operator
    counts its status writes by it (cg_status_writes_total)."""
    if not current or not current.get("conditions"):
        return "first"
    if condition_status(current, "Ready") != condition_status(patch, "Ready"):
        return "Ready"
    return next((f for f in immediate if f in patch and not _same(current.get(f), patch[f])), None)


def applying_a_change(current: Mapping[str, Any] | None, patch: Mapping[str, Any]) -> bool:
    """Whether a patch only says that a Ready object is working on a newer spec: the stored
    status is Ready, the patch is not Ready, reflects a newer generation and keeps the running
    version. Until it is written a reader sees the stored Ready status with an older
    observedGeneration, which already says that a change is being worked on (kstatus reads it
    as InProgress), so Ready's fall and the new generation may wait with the rest of the
    change's progress; the change completing within the window then takes one write."""
    if not current or condition_status(current, "Ready") != "True":
        return False
    return (
        condition_status(patch, "Ready") == "False"
        and "observedGeneration" in patch
        and not _same(current.get("observedGeneration"), patch["observedGeneration"])
        and _same(current.get("observedVersion"), patch.get("observedVersion"))
    )


# The cause a held progress change is written with once its window has ended.
WRITE_CAUSE_PROGRESS = "progress"


def inventory_entries(status: Mapping[str, Any] | None) -> frozenset[tuple[str, str, str]]:
    """The inventory of a status (stored or a patch) as (apiVersion, kind, name)."""
    return frozenset(
        (str(e.get("apiVersion")), str(e.get("kind")), str(e.get("name")))
        for e in (status or {}).get("inventory") or []
        if isinstance(e, Mapping)
    )


def condition_status(status: Mapping[str, Any] | None, type_: str) -> str | None:
    """A stored condition's status ("True", "False", "Unknown"), None without one: read from
    the raw status, not validated as existing_conditions does, for the passes that ask it of
    every dependency."""
    conditions = (status or {}).get("conditions") or []
    return next((c.get("status") for c in conditions if c.get("type") == type_), None)


def _same(stored: Any, wanted: Any) -> bool:
    if isinstance(wanted, list) and isinstance(stored, list):
        return [_normal(x) for x in stored] == [_normal(x) for x in wanted]
    return bool(stored == wanted)


def _normal(item: Any) -> Any:
    """Conditions as stored (timestamps as the API server formats them) compare equal to ours."""
    if isinstance(item, Mapping):
        return {k: _normal(v) for k, v in item.items() if v not in (None, "")}
    if isinstance(item, str) and item.endswith("+00:00"):
        return item.removesuffix("+00:00") + "Z"
    return item
