"""The App Store's view models and actions (appstore/views, appstore/actions): what a
municipality, a delivery organisation and `kubectl cg` see and may change, from the stored
objects alone."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest

from cg_operator.appstore import actions, views
from cg_operator.appstore.kubectl import build_parser
from tests.support.fake_store import installation


def tenant(name: str, ring: str, *components: str, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "resourceVersion": "7",
            "labels": {"appstore.commonground.nl/ring": ring},
        },
        "spec": {
            "ring": ring,
            "components": [{"name": c, "offering": "container"} for c in components],
            **spec,
        },
    }


COMPONENT = {
    "metadata": {"name": "open-zaak"},
    "spec": {
        "defaultVersion": "1.30.0",
        "offerings": [{"name": "container"}, {"name": "saas"}],
        "versions": [{"version": "1.29.1"}, {"version": "1.30.0"}],
    },
}


def test_a_municipalitys_components_say_why_and_what_upgrade_waits() -> None:
    rows = views.tenant_components(
        tenant("t", "volger", "open-zaak", "objecten"),
        [installation("open-zaak", "t", "1.29.1", ready="False")],
        {"open-zaak": COMPONENT},
    )
    objecten, open_zaak = rows
    assert (objecten.ready, objecten.reason) == ("Unknown", "NotInstalled")
    assert (open_zaak.version, open_zaak.ready, open_zaak.reason) == (
        "1.29.1",
        "False",
        "ConfigurationFailed",
    )
    assert open_zaak.upgrade == "1.30.0"


@pytest.mark.parametrize(
    ("older", "newer"),
    [("1.9.2", "1.10.0"), ("1.30.0-rc.1", "1.30.0"), ("2.18.0", "2.19.0"), ("1.0", "1.0.1")],
)
def test_versions_order_as_releases_do(older: str, newer: str) -> None:
    assert views.version_key(older) < views.version_key(newer)


def test_no_upgrade_is_offered_to_one_ahead_of_the_recommendation() -> None:
    assert views.upgrade_available("1.31.0", COMPONENT) is None
    assert views.upgrade_available(None, COMPONENT) is None


def test_the_fleet_counts_versions_by_ring_in_ring_order() -> None:
    tenants = [tenant("a", "volger"), tenant("b", "koploper"), tenant("c", "koploper")]
    fleet = views.fleet(
        "open-zaak",
        COMPONENT,
        views.tenant_rings(tenants),
        [
            installation("open-zaak", "a", "1.29.1"),
            installation("open-zaak", "b", "1.30.0"),
            installation("open-zaak", "c", "1.29.1", ready="False"),
            installation("objecten", "a", "3.6.1"),
        ],
    )
    assert fleet.versions == ["1.30.0", "1.29.1"]
    assert [r.ring for r in fleet.rings] == ["koploper", "volger"]
    assert dict(fleet.rings[0].versions) == {"1.30.0": 1, "1.29.1": 1}
    assert (fleet.ready, fleet.total, fleet.upgrades) == (2, 3, 2)
    assert json.loads(json.dumps(dataclasses.asdict(fleet)))["rings"][1]["versions"] == {
        "1.29.1": 1
    }


@pytest.mark.parametrize(
    ("conditions", "phase", "done"),
    [
        ([{"type": "Complete", "status": "True", "message": "m"}], "Complete", True),
        ([{"type": "Failed", "status": "True", "message": "m"}], "Failed", False),
        ([{"type": "Progressing", "status": "False", "reason": "Aborted"}], "Aborted", False),
        ([{"type": "Paused", "status": "True"}], "Paused", None),
        ([{"type": "Progressing", "status": "True"}], "Progressing", None),
        ([], "Pending", None),
    ],
)
def test_a_rollouts_phase_comes_from_its_conditions(
    conditions: list[dict[str, str]], phase: str, done: bool | None
) -> None:
    view = views.rollout_view(
        {"metadata": {"name": "r"}, "spec": {}, "status": {"conditions": conditions}}
    )
    assert view.phase == phase
    assert views.rollout_done(view) is done


def test_a_server_table_keeps_its_columns_and_hides_wide_ones() -> None:
    table = {
        "columnDefinitions": [
            {"name": "Name", "priority": 0},
            {"name": "Endpoint", "priority": 1},
        ],
        "rows": [{"cells": ["a", None]}],
    }
    assert views.table_rows(table) == (["NAME"], [["a"]])
    assert views.table_rows(table, wide=True) == (["NAME", "ENDPOINT"], [["a", ""]])
    assert views.render_table(["NAME", "X"], [["long-name", "1"]], no_headers=False) == (
        "NAME        X\nlong-name   1"
    )


def test_approving_a_wave_is_guarded_and_names_the_waves() -> None:
    rollout = {
        "metadata": {"name": "r", "resourceVersion": "12"},
        "spec": {"waves": [{"name": "koplopers"}, {"name": "volgers"}], "approvedWaves": []},
    }
    patch = actions.approve_wave(rollout, "volgers")
    assert patch.kind == "apply"
    assert patch.body == {
        "apiVersion": "appstore.commonground.nl/v1alpha1",
        "kind": "ComponentRollout",
        "metadata": {"name": "r", "resourceVersion": "12"},
        "spec": {"approvedWaves": ["volgers"]},
    }
    with pytest.raises(actions.ActionError, match="koplopers, volgers"):
        actions.approve_wave(rollout, "nope")
    rollout["spec"]["approvedWaves"] = ["volgers"]
    assert actions.approve_wave(rollout, "volgers").kind == "none"


def test_a_tenant_approves_a_rollout_by_name_component_and_target() -> None:
    rollout = {"metadata": {"name": "r"}, "spec": {"component": "open-zaak", "version": "1.30.0"}}
    patch = actions.approve_for_tenant(tenant("t", "volger", "open-zaak"), rollout)
    assert patch.body["spec"]["approvedRollouts"] == [
        {"name": "r", "component": "open-zaak", "version": "1.30.0"}
    ]
    with pytest.raises(actions.ActionError, match="does not subscribe"):
        actions.approve_for_tenant(tenant("t", "volger"), rollout)


def test_subscribing_needs_an_offering_when_there_is_a_choice_and_a_known_version() -> None:
    with pytest.raises(actions.ActionError, match="choose one"):
        actions.subscribe(tenant("t", "volger"), COMPONENT)
    with pytest.raises(actions.ActionError, match="no version 9"):
        actions.subscribe(tenant("t", "volger"), COMPONENT, offering="container", version="9")
    with pytest.raises(actions.ActionError, match="already subscribes"):
        actions.subscribe(tenant("t", "volger", "open-zaak"), COMPONENT, offering="container")
    patch = actions.subscribe(
        tenant("t", "volger", "objecten"), COMPONENT, offering="saas", values={"A": "1"}
    )
    assert patch.body["spec"]["components"][-1] == {
        "name": "open-zaak",
        "offering": "saas",
        "values": {"A": "1"},
    }
    # The whole list, as read: an apply would drop entries it set before and now left out.
    assert [c["name"] for c in patch.body["spec"]["components"]] == ["objecten", "open-zaak"]
    assert patch.body["metadata"] == {"name": "t", "resourceVersion": "7"}


@pytest.mark.parametrize(("policy", "says"), [("Retain", "kept"), ("Delete", "deleted")])
def test_unsubscribing_removes_exactly_that_entry_and_says_what_stays(
    policy: str, says: str
) -> None:
    patch = actions.unsubscribe(
        tenant("t", "volger", "objecten", "open-zaak", deletionPolicy=policy), "open-zaak"
    )
    assert patch.body == [
        {"op": "test", "path": "/spec/components/1/name", "value": "open-zaak"},
        {"op": "remove", "path": "/spec/components/1"},
    ]
    assert says in patch.summary


def test_an_abort_cannot_be_undone_by_the_tool() -> None:
    rollout = {"metadata": {"name": "r"}}
    paused = actions.set_rollout_flag(rollout, "paused", True).body
    assert paused["spec"] == {"paused": True}
    assert "resourceVersion" not in paused["metadata"], "one field: nothing to guard"
    with pytest.raises(actions.ActionError, match="cannot be undone"):
        actions.set_rollout_flag(rollout, "abort", False)


def test_kubectl_flags_work_before_and_after_the_command() -> None:
    parser = build_parser()
    before = parser.parse_args(["-o", "json", "--context", "c", "catalog"])
    after = parser.parse_args(["catalog", "-o", "json", "--context", "c"])
    neither = parser.parse_args(["catalog"])
    assert (before.output, before.context) == (after.output, after.context) == ("json", "c")
    assert (neither.output, neither.context) == ("table", None)
