"""An approval that approves nothing is reported on the tenant (Ready=False naming the field),
never silently kept: a rollout that does not exist, or one made again with another target.
An approval whose rollout did its work and was cleaned up is fine."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cg_operator.api.conditions import REASON_UNMATCHED_APPROVAL, find
from cg_operator.api.tenant import ComponentSummary, MunicipalityTenantSpec
from cg_operator.reconcile.tenant import tenant_conditions
from cg_operator.reconcile.validation import FieldError, unmatched_approvals

NOW = datetime(2026, 12, 3, tzinfo=UTC)
ROLLOUTS = {"oz-130": {"component": "open-zaak", "version": "1.30.0"}}


def spec(*approvals: dict[str, str]) -> MunicipalityTenantSpec:
    body: dict[str, Any] = {
        "municipality": {"name": "Almere", "code": "GM0034"},
        "upgradePolicy": "Approve",
        "components": [{"name": "open-zaak", "offering": "container"}],
        "approvedRollouts": list(approvals),
    }
    return MunicipalityTenantSpec.model_validate(body)


def approval(name: str, version: str = "1.30.0") -> dict[str, str]:
    return {"name": name, "component": "open-zaak", "version": version}


def test_an_approval_of_an_existing_rollout_to_its_target_is_matched() -> None:
    assert unmatched_approvals(spec(approval("oz-130")), ROLLOUTS, {"open-zaak": "1.29.1"}) == []


def test_an_approval_of_a_rollout_that_does_not_exist_names_the_field() -> None:
    (problem,) = unmatched_approvals(
        spec(approval("oz-130"), approval("oz-131", "1.31.0")), ROLLOUTS, {"open-zaak": "1.29.1"}
    )
    assert problem.field == "spec.approvedRollouts[1]"
    assert "'oz-131' does not exist" in problem.message


def test_an_approval_whose_rollout_finished_and_was_deleted_is_fine() -> None:
    assert unmatched_approvals(spec(approval("oz-130")), {}, {"open-zaak": "1.30.0"}) == []


def test_a_rollout_made_again_with_another_target_is_not_covered() -> None:
    again = {"oz-130": {"component": "open-zaak", "version": "1.31.0"}}
    (problem,) = unmatched_approvals(spec(approval("oz-130")), again, {"open-zaak": "1.29.1"})
    assert problem.field == "spec.approvedRollouts[0]"
    assert "moves open-zaak to 1.31.0, not open-zaak to 1.30.0" in problem.message


def summary_of(ready: bool) -> ComponentSummary:
    return ComponentSummary.model_validate(
        {"name": "open-zaak", "ready": ready, "reason": "Available" if ready else "Progressing"}
    )


def test_an_unmatched_approval_makes_a_tenant_not_ready_and_says_why() -> None:
    problems = [FieldError("spec.approvedRollouts[0]", "rollout 'x' does not exist")]
    ready = find(
        tenant_conditions([], [summary_of(True)], generation=2, now=NOW, unmatched=problems),
        "Ready",
    )
    assert ready is not None
    assert (ready.status, ready.reason) == ("False", REASON_UNMATCHED_APPROVAL)
    assert "spec.approvedRollouts[0]" in ready.message
    # Components that are not Ready come first; the approval is still named.
    waiting = find(
        tenant_conditions([], [summary_of(False)], generation=2, now=NOW, unmatched=problems),
        "Ready",
    )
    assert waiting is not None
    assert waiting.reason == "ComponentsNotReady"
    assert "spec.approvedRollouts[0]" in waiting.message
    assert find(tenant_conditions([], [summary_of(True)], generation=2, now=NOW), "Ready")
