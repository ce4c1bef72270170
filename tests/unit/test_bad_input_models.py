"""The operator's models and the CRD schema agree on the bad-input corpus.

Admission cases must fail the spec model too (unless the rule is one the model cannot see: a
transition rule or a duplicate list-map key); operator cases must pass the model and then fail
the cross-object checks, naming the field the corpus names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from cg_operator.api.component import CGComponentSpec
from cg_operator.api.installation import ComponentInstallationSpec
from cg_operator.api.rollout import ComponentRolloutSpec
from cg_operator.api.tenant import MunicipalityTenantSpec
from cg_operator.reconcile.validation import (
    component_errors,
    parse_spec,
    rollout_errors,
    tenant_errors,
    unmatched_approvals,
)

CORPUS = Path(__file__).resolve().parents[1] / "data" / "bad-input"
CASES: list[dict[str, Any]] = yaml.safe_load((CORPUS / "cases.yaml").read_text())
BASE = [d for d in yaml.safe_load_all((CORPUS / "base.yaml").read_text()) if d]
MODELS: dict[str, type[BaseModel]] = {
    "CGComponent": CGComponentSpec,
    "MunicipalityTenant": MunicipalityTenantSpec,
    "ComponentInstallation": ComponentInstallationSpec,
    "ComponentRollout": ComponentRolloutSpec,
}
CATALOGUE = {
    d["metadata"]["name"]: CGComponentSpec.model_validate(d["spec"])
    for d in BASE
    if d["kind"] == "CGComponent"
}


def _ids(case: dict[str, Any]) -> str:
    return str(case["name"])


@pytest.mark.parametrize(
    "case",
    [c for c in CASES if c["stage"] == "admission" and c.get("pydantic") != "accepts"],
    ids=_ids,
)
def test_the_model_rejects_what_admission_rejects(case: dict[str, Any]) -> None:
    parsed, errors = parse_spec(MODELS[case["object"]["kind"]], case["object"]["spec"])
    assert parsed is None, f"{case['name']}: the model accepts a spec the API server refuses"
    assert errors


@pytest.mark.parametrize("case", [c for c in CASES if c["stage"] == "operator"], ids=_ids)
def test_operator_cases_pass_the_model_and_fail_the_catalogue_checks(
    case: dict[str, Any],
) -> None:
    obj = case["object"]
    parsed, errors = parse_spec(MODELS[obj["kind"]], obj["spec"])
    assert parsed is not None, errors
    if isinstance(parsed, MunicipalityTenantSpec) and case.get("reason") == "UnmatchedApproval":
        rollouts = {
            d["metadata"]["name"]: d["spec"] for d in BASE if d["kind"] == "ComponentRollout"
        }
        found = unmatched_approvals(parsed, rollouts, {})  # a new tenant runs nothing yet
    elif isinstance(parsed, MunicipalityTenantSpec):
        found = tenant_errors(parsed, CATALOGUE)
    elif isinstance(parsed, ComponentRolloutSpec):
        found = rollout_errors(parsed, CATALOGUE)
    else:
        assert isinstance(parsed, CGComponentSpec)
        found = component_errors(obj["metadata"]["name"], parsed, CATALOGUE)
    assert case["field"] in [e.field for e in found]


def test_the_base_objects_are_valid() -> None:
    for doc in BASE:
        parsed, errors = parse_spec(MODELS[doc["kind"]], doc["spec"])
        assert parsed is not None, (doc["metadata"]["name"], errors)
