"""How a failing pass is described on its object: short, and never with a request or response
body, which may carry a Secret's data."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from kubernetes.client.exceptions import ApiException

from cg_operator.api.conditions import READY, STALLED, find
from cg_operator.handlers.failures import describe
from cg_operator.reconcile.status import failure_conditions


def test_an_api_error_about_a_secret_is_described_by_status_and_reason_only() -> None:
    error = ApiException(status=422, reason="Unprocessable Entity")
    error.body = (
        '{"message": "Secret x: data.password: c2VjcmV0 is invalid",'
        ' "details": {"name": "x", "kind": "secrets"}}'
    )
    assert describe(error) == "the API server answered 422 Unprocessable Entity"
    error.body = '{"message": "something about c2VjcmV0"}'  # no kind named: nothing said
    assert describe(error) == "the API server answered 422 Unprocessable Entity"


def test_a_refusal_of_another_object_says_why() -> None:
    error = ApiException(status=422, reason="Unprocessable Entity")
    error.body = json.dumps(
        {
            "message": 'configmaps "app-config" is forbidden: ValidatingAdmissionPolicy'
            " 'refuse' denied request: not in this namespace\nmore",
            "details": {"name": "app-config", "kind": "configmaps"},
        }
    )
    said = describe(error)
    assert said.startswith("the API server answered 422 Unprocessable Entity: configmaps")
    assert said.endswith("denied request: not in this namespace")


def test_other_errors_give_their_type_and_first_line_cut_short() -> None:
    message = describe(ValueError("bad value\ntraceback detail\n" + "x" * 500))
    assert message == "ValueError: bad value"
    assert len(describe(RuntimeError("y" * 1000))) == 300


def test_a_stalled_object_is_not_ready_and_says_why() -> None:
    now = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    conditions = failure_conditions([], "ValueError: bad value", generation=4, now=now)
    ready, stalled = find(conditions, READY), find(conditions, STALLED)
    assert ready is not None
    assert stalled is not None
    assert (ready.status, ready.reason) == ("False", "ReconcileError")
    assert (stalled.status, stalled.message) == ("True", "ValueError: bad value")
