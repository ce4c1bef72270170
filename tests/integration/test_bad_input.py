"""Every object in the bad-input corpus is refused with a message that names the field.

Admission cases must be rejected by the API server (schema or CEL); operator cases, which only
the catalogue can judge, must be accepted and then reported as Ready=False/InvalidSpec (or the
case's own reason, e.g. UnmatchedApproval). Valid
objects already stored are not disturbed by any of it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.integration.conftest import OperatorProcess
from tests.support.cluster import REPO, Cluster, wait_for

CORPUS = REPO / "tests" / "data" / "bad-input"
CASES: list[dict[str, Any]] = yaml.safe_load((CORPUS / "cases.yaml").read_text())
PLURALS = {
    "CGComponent": "cgcomponents",
    "MunicipalityTenant": "municipalitytenants",
    "ComponentInstallation": "componentinstallations",
    "ComponentRollout": "componentrollouts",
}


def _ref(obj: dict[str, Any]) -> list[str]:
    meta = obj["metadata"]
    ref = [f"{PLURALS[obj['kind']]}.appstore.commonground.nl/{meta['name']}"]
    return [*ref, "-n", meta["namespace"]] if meta.get("namespace") else ref


def _snapshot(cluster: Cluster, base: list[dict[str, Any]]) -> dict[str, Any]:
    out = {}
    for obj in base:
        stored = json.loads(cluster.kubectl("get", *_ref(obj), "-o", "json").stdout)
        # Status may move (the operator reports on the base objects); the spec must not.
        out[obj["metadata"]["name"]] = (stored["metadata"]["generation"], stored["spec"])
    return out


@pytest.fixture(scope="module")
def base(
    cluster: Cluster, crds: None, module_operator: OperatorProcess
) -> Iterator[list[dict[str, Any]]]:
    """The valid objects the corpus builds on, and the namespace for namespaced cases; removed
    afterwards while the operator still runs to finalise them (its SaaS subscription waits for
    a credentials Secret that never comes, which later modules must not inherit)."""
    cluster.kubectl("create", "namespace", "bad-input", check=False)
    docs = [d for d in yaml.safe_load_all((CORPUS / "base.yaml").read_text()) if d]
    for doc in docs:
        cluster.apply(doc)
    yield docs
    for doc in reversed(docs):
        cluster.kubectl("delete", *_ref(doc), "--ignore-not-found", "--timeout=180s", check=False)
    cluster.kubectl("delete", "namespace", "bad-input", "--ignore-not-found", "--wait=false")


def test_the_corpus_is_large_and_covers_both_stages() -> None:
    assert len(CASES) >= 40
    assert len({c["name"] for c in CASES}) == len(CASES)
    assert {c["stage"] for c in CASES} == {"admission", "operator"}


@pytest.mark.parametrize(
    "case", [c for c in CASES if c["stage"] == "admission"], ids=lambda c: c["name"]
)
def test_admission_rejects_with_the_field_named(
    cluster: Cluster, base: list[dict[str, Any]], case: dict[str, Any]
) -> None:
    before = _snapshot(cluster, base)
    obj = case["object"]
    if case.get("before"):
        cluster.apply(case["before"])
    try:
        result = cluster.apply(obj, check=False)
        assert result.returncode != 0, f"{case['name']}: the API server accepted it"
        assert case["field"] in result.stderr, (
            f"{case['name']}: the error does not name {case['field']}: {result.stderr}"
        )
    finally:
        cluster.kubectl("delete", *_ref(obj), "--ignore-not-found", "--wait=false")
    assert _snapshot(cluster, base) == before, "a valid stored object changed"


@pytest.mark.parametrize(
    "case", [c for c in CASES if c["stage"] == "operator"], ids=lambda c: c["name"]
)
def test_operator_reports_invalid_spec_with_the_field_named(
    cluster: Cluster,
    base: list[dict[str, Any]],
    module_operator: OperatorProcess,
    case: dict[str, Any],
) -> None:
    before = _snapshot(cluster, base)
    obj = case["object"]
    cluster.apply(obj)
    try:
        reason = case.get("reason", "InvalidSpec")

        def invalid_spec() -> dict[str, Any] | None:
            stored = json.loads(cluster.kubectl("get", *_ref(obj), "-o", "json").stdout)
            for condition in stored.get("status", {}).get("conditions", []):
                if condition["type"] == "Ready" and condition["reason"] == reason:
                    return dict(condition)
            return None

        ready = wait_for(f"{case['name']}: Ready=False/{reason}", invalid_spec, timeout=60)
        assert ready["status"] == "False"
        assert case["field"] in ready["message"], ready["message"]
    finally:
        cluster.kubectl("delete", *_ref(obj), "--ignore-not-found", "--wait=false")
    assert _snapshot(cluster, base) == before, "a valid stored object changed"


def test_invalid_spec_clears_when_the_spec_is_fixed(
    cluster: Cluster, base: list[dict[str, Any]], module_operator: OperatorProcess
) -> None:
    tenant = next(d for d in base if d["kind"] == "MunicipalityTenant")
    broken = json.loads(json.dumps(tenant))
    broken["metadata"]["name"] = "bad-fixable"
    # A code no other tenant has: one tenant per municipality, and the examples have Rotterdam.
    broken["spec"]["municipality"] = {"name": "Rotterdam", "code": "GM0997"}
    broken["spec"]["namespace"] = "bad-fixable"
    broken["spec"]["components"][0]["offering"] = "no-such-offering"
    cluster.apply(broken)
    try:

        def reason() -> str | None:
            stored = json.loads(cluster.kubectl("get", *_ref(broken), "-o", "json").stdout)
            conditions = {c["type"]: c for c in stored.get("status", {}).get("conditions", [])}
            gen = stored["metadata"]["generation"]
            if stored.get("status", {}).get("observedGeneration") != gen:
                return None
            ready = conditions.get("Ready")
            return ready["reason"] if ready else "none"

        assert wait_for("InvalidSpec", lambda: reason() == "InvalidSpec" or None) is True
        fixed = json.loads(json.dumps(broken))
        fixed["spec"]["components"] = tenant["spec"]["components"]
        cluster.apply(fixed)
        withdrawn = wait_for(
            "InvalidSpec withdrawn", lambda: (reason() or "InvalidSpec") != "InvalidSpec" or None
        )
        assert withdrawn is True
    finally:
        cluster.kubectl("delete", *_ref(broken), "--ignore-not-found", "--wait=false")


def test_valid_edge_cases_are_accepted(cluster: Cluster, base: list[dict[str, Any]]) -> None:
    """Renaming a municipality keeps its code; Exists/DoesNotExist selectors need no values."""
    tenant = next(d for d in base if d["kind"] == "MunicipalityTenant")
    renamed = json.loads(json.dumps(tenant))
    renamed["spec"]["municipality"]["name"] = "Gemeente Amsterdam"
    cluster.apply(renamed)
    cluster.apply(tenant)
    rollout = json.loads(json.dumps(next(d for d in base if d["kind"] == "ComponentRollout")))
    rollout["metadata"]["name"] = "bad-edge-exists-selector"
    rollout["spec"]["waves"] = [
        {
            "name": "rest",
            "tenantSelector": {
                "matchExpressions": [
                    {"key": "appstore.commonground.nl/ring", "operator": "Exists"},
                    {"key": "appstore.commonground.nl/frozen", "operator": "DoesNotExist"},
                ]
            },
        }
    ]
    try:
        cluster.apply(rollout)
    finally:
        cluster.kubectl("delete", *_ref(rollout), "--ignore-not-found", "--wait=false")
