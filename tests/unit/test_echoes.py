"""The echo of the operator's own status write asks for no pass of the object; any change its
pass acts on does."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from cg_operator.handlers.echoes import StatusEchoes, content_fingerprint

TENANT: dict[str, Any] = {
    "metadata": {
        "name": "gm0363-amsterdam",
        "generation": 3,
        "resourceVersion": "100",
        "labels": {"appstore.commonground.nl/ring": "koplopers"},
        "annotations": {"note": "a"},
        "finalizers": ["appstore.commonground.nl/finalizer"],
    },
    "spec": {"components": [{"name": "open-zaak"}]},
    "status": {"conditions": [{"type": "Ready", "status": "False"}]},
}


def _edited(base: dict[str, Any], edit: Any) -> dict[str, Any]:
    """A copy of base as the next event shows it after edit: a new resourceVersion."""
    body = copy.deepcopy(base)
    edit(body)
    body["metadata"]["resourceVersion"] = str(int(base["metadata"]["resourceVersion"]) + 1)
    return body


def _changed(edit: Any) -> dict[str, Any]:
    return _edited(TENANT, edit)


def test_the_echo_of_a_status_write_is_not_a_change() -> None:
    echoes = StatusEchoes()
    assert echoes.acts_on("t", TENANT), "the first event of an object always asks for a pass"
    echo = _changed(lambda b: b["status"]["conditions"][0].update(status="True"))
    assert not echoes.acts_on("t", echo)
    assert not echoes.acts_on("t", TENANT), "a repeated event is not a change either"


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda b: b["metadata"].update(generation=4), id="spec (generation)"),
        pytest.param(
            lambda b: b["metadata"]["labels"].update({"appstore.commonground.nl/ring": "volgers"}),
            id="label",
        ),
        pytest.param(lambda b: b["metadata"]["annotations"].update(note="b"), id="annotation"),
        pytest.param(lambda b: b["metadata"].update(finalizers=[]), id="finalizer"),
        pytest.param(
            lambda b: b["metadata"].update(deletionTimestamp="2026-11-29T08:00:00Z"),
            id="deletion",
        ),
    ],
)
def test_a_change_the_pass_acts_on_asks_for_a_pass(edit: Any) -> None:
    echoes = StatusEchoes()
    echoes.acts_on("t", TENANT)
    assert echoes.acts_on("t", _changed(edit))


def test_objects_are_told_apart_and_a_deleted_one_starts_fresh() -> None:
    echoes = StatusEchoes()
    assert echoes.acts_on("a", TENANT)
    assert echoes.acts_on("b", TENANT), "another object's first event"
    echoes.forget("a")
    assert echoes.acts_on("a", TENANT), "re-created under the same name"


QUOTA: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "ResourceQuota",
    "metadata": {
        "name": "tenant-quota",
        "namespace": "gm0363-amsterdam",
        "resourceVersion": "7",
        "labels": {"appstore.commonground.nl/tenant": "gm0363-amsterdam"},
        "managedFields": [{"manager": "kube-controller-manager", "time": "08:00:00"}],
    },
    "spec": {"hard": {"requests.cpu": "8"}},
    "status": {"used": {"requests.cpu": "1"}},
}


def test_a_quotas_usage_update_does_not_concern_its_tenant_but_an_edit_of_its_limits_does() -> None:
    echoes = StatusEchoes(content_fingerprint)
    assert echoes.acts_on("q", QUOTA)

    def used(body: dict[str, Any]) -> None:
        body["status"]["used"]["requests.cpu"] = "2"
        body["metadata"]["managedFields"][0]["time"] = "08:00:05"

    assert not echoes.acts_on("q", _edited(QUOTA, used)), "the controller-manager counted a new pod"
    assert echoes.acts_on(
        "q", _edited(QUOTA, lambda b: b["spec"]["hard"].update({"requests.cpu": "64"}))
    )
