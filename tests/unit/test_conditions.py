"""Conditions follow the API conventions; a pass that changes nothing writes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cg_operator.api.conditions import find, set_condition
from cg_operator.reconcile.status import status_patch, validation_conditions
from cg_operator.reconcile.validation import FieldError

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5)


def test_transition_time_moves_only_when_status_changes() -> None:
    first = set_condition(
        [], type_="Ready", status="False", reason="A", message="", generation=1, now=T0
    )
    same = set_condition(
        first, type_="Ready", status="False", reason="B", message="x", generation=2, now=T1
    )
    flipped = set_condition(
        same, type_="Ready", status="True", reason="C", message="", generation=2, now=T1
    )
    assert find(same, "Ready").last_transition_time == T0  # type: ignore[union-attr]
    assert find(same, "Ready").reason == "B"  # type: ignore[union-attr]
    assert find(flipped, "Ready").last_transition_time == T1  # type: ignore[union-attr]


def test_invalid_spec_is_not_ready_and_stalled_with_the_field_named() -> None:
    errors = [FieldError("spec.components[0].offering", "no offering 'x'")]
    conditions = validation_conditions([], errors, generation=3, now=T0, ready_when_valid=False)
    ready, stalled = find(conditions, "Ready"), find(conditions, "Stalled")
    assert ready is not None
    assert stalled is not None
    assert (ready.status, ready.reason, stalled.status) == ("False", "InvalidSpec", "True")
    assert "spec.components[0].offering: no offering 'x'" in ready.message
    assert ready.observed_generation == 3


def test_fixing_the_spec_withdraws_invalid_spec() -> None:
    bad = validation_conditions(
        [], [FieldError("spec.x", "bad")], generation=1, now=T0, ready_when_valid=False
    )
    fixed = validation_conditions(bad, [], generation=2, now=T1, ready_when_valid=False)
    assert fixed == []
    catalogue_entry = validation_conditions(bad, [], generation=2, now=T1, ready_when_valid=True)
    ready = find(catalogue_entry, "Ready")
    assert ready is not None
    assert ready.status == "True"
    assert ready.last_transition_time == T1


def test_status_patch_is_none_when_nothing_changes() -> None:
    conditions = validation_conditions([], [], generation=4, now=T0, ready_when_valid=True)
    patch = status_patch({}, conditions, 4)
    assert patch is not None
    stored = {
        "observedGeneration": 4,
        "conditions": [
            {**c, "lastTransitionTime": c["lastTransitionTime"].replace("+00:00", "Z")}
            for c in patch["conditions"]
        ],
    }
    assert status_patch(stored, conditions, 4) is None
    assert status_patch(stored, conditions, 5) is not None
