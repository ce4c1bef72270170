"""Drift detection: server defaults and canonical forms are not drift; real changes are."""

from __future__ import annotations

from typing import Any

import pytest

from cg_operator.api.constants import ANNOTATION_APPLIED
from cg_operator.reconcile.diff import (
    LARGE_DATA_BYTES,
    Digests,
    changed_by_someone_else,
    compact,
    difference,
    foreign_managers,
    in_sync,
    needs_replace,
    other_writer,
    plain_data,
    stamped,
)
from cg_operator.reconcile.quantity import parse_quantity

DESIRED = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "labels": {"a": "1"}},
    "spec": {
        "replicas": 1,
        "template": {
            "spec": {
                "containers": [
                    {
                        "name": "web",
                        "env": [],
                        "resources": {"limits": {"cpu": "0.5", "memory": "1024Mi"}},
                    }
                ]
            }
        },
    },
}
LIVE = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "labels": {"a": "1", "extra": "x"}, "uid": "u"},
    "spec": {
        "replicas": 1,
        "strategy": {"type": "RollingUpdate"},
        "template": {
            "spec": {
                "containers": [
                    {
                        "name": "web",
                        "terminationMessagePath": "/dev/termination-log",
                        "resources": {"limits": {"cpu": "500m", "memory": "1Gi"}},
                    }
                ]
            }
        },
    },
    "status": {"replicas": 1},
}


def test_defaults_and_canonical_quantities_are_not_drift() -> None:
    assert in_sync(DESIRED, LIVE)


def test_a_missing_object_and_a_changed_field_are_drift() -> None:
    assert difference(DESIRED, None) == ""
    changed = {**LIVE, "spec": {**LIVE["spec"], "replicas": 5}}
    assert difference(DESIRED, changed) == ".spec.replicas"
    relabelled = {**LIVE, "metadata": {"name": "web", "labels": {"a": "2"}}}
    assert difference(DESIRED, relabelled) == ".metadata.labels.a"


def test_a_list_of_another_length_is_drift() -> None:
    desired = {"spec": {"ports": [{"port": 80}]}}
    assert difference(desired, {"spec": {"ports": [{"port": 80}, {"port": 81}]}}) == ".spec.ports"


def test_finalizers_are_a_set_that_other_controllers_add_to() -> None:
    """Ours among others is in sync (applying would not remove theirs); ours missing is drift."""
    desired = {
        "metadata": {"name": "open-zaak", "finalizers": ["appstore.commonground.nl/finalizer"]}
    }
    theirs = "backup.example.org/protect"
    assert in_sync(
        desired,
        {
            "metadata": {
                "name": "open-zaak",
                "finalizers": [theirs, *desired["metadata"]["finalizers"]],
            }
        },
    )
    without_ours = {"metadata": {"name": "open-zaak", "finalizers": [theirs]}}
    assert str(difference(desired, without_ours)).startswith(".metadata.finalizers")
    assert difference(desired, {"metadata": {"name": "open-zaak"}}) == ".metadata.finalizers"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", "0.5"),
        ("1Gi", "1073741824"),
        ("2", "2"),
        ("1e3", "1000"),
        ("128974848", "128974848"),
    ],
)
def test_quantities(text: str, value: str) -> None:
    assert parse_quantity(text) == parse_quantity(value)


def test_not_a_quantity() -> None:
    assert parse_quantity("abc") is None
    assert parse_quantity("1Xi") is None


def config(**data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "open-zaak-config", "namespace": "gm0363-amsterdam"},
        "data": data,
    }


def test_a_field_the_operator_stopped_setting_is_drift_until_applied_again() -> None:
    live = stamped(config(A="1", B="2"))
    # A subset comparison alone sees nothing wrong: A=1 is still there.
    assert difference(config(A="1"), live) is None
    assert difference(stamped(config(A="1")), live) == f".metadata.annotations.{ANNOTATION_APPLIED}"


def test_an_unchanged_wish_keeps_its_stamp_so_idle_and_restart_write_nothing() -> None:
    assert stamped(config(A="1", B="2")) == stamped(config(B="2", A="1"))
    assert difference(stamped(config(A="1")), stamped(config(A="1"))) is None


def test_a_secrets_stamp_carries_nothing_derived_from_its_values() -> None:
    def secret(password: str) -> dict[str, Any]:
        return {**config(), "kind": "Secret", "data": {"password": password}}

    one, other = stamped(secret("czNjcmV0")), stamped(secret("b3RoZXI="))
    stamp = one["metadata"]["annotations"][ANNOTATION_APPLIED]
    assert stamp == other["metadata"]["annotations"][ANNOTATION_APPLIED]
    # A changed value is still drift: the comparison sees it.
    assert difference(other, one) == ".data.password"
    without_key = stamped({**config(), "kind": "Secret", "data": {}})
    assert without_key["metadata"]["annotations"][ANNOTATION_APPLIED] != stamp


def service(kind: str = "ClusterIP", *ports: int) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": kind}
    if ports:
        spec["ports"] = [{"name": "postgresql", "port": p, "protocol": "TCP"} for p in ports]
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db"}, "spec": spec}


def test_a_service_is_recreated_when_its_type_or_port_numbers_changed() -> None:
    assert not needs_replace(service("ClusterIP", 5432), service("ClusterIP", 5432))
    assert not needs_replace(service("ClusterIP", 5432), None)
    assert needs_replace(service("ExternalName"), service("ClusterIP", 80))
    # Someone changed the port: applying would add 5432 beside 1, two ports named postgresql.
    assert needs_replace(service("ClusterIP", 5432), service("ClusterIP", 1))
    assert not needs_replace(config(A="1"), config(B="2"))


# --- Someone else's change ------------------------------------------------------------------


def test_a_difference_under_the_operators_own_stamp_is_someone_elses_change() -> None:
    want = stamped({"kind": "Deployment", "metadata": {"name": "a"}, "spec": {"replicas": 1}})
    theirs = {**want, "spec": {"replicas": 3}}
    assert changed_by_someone_else(want, theirs)
    # The operator's own wish changed (a new stamp): its apply, not a repair.
    wished = stamped({**want, "spec": {"replicas": 2}})
    assert not changed_by_someone_else(wished, theirs)
    assert not changed_by_someone_else(want, None), "missing: created, not repaired"
    unstamped = {"kind": "Deployment", "metadata": {"name": "a"}, "spec": {"replicas": 3}}
    assert not changed_by_someone_else(want, unstamped), "made before stamps: adopted"


def test_the_other_writer_is_the_last_manager_of_spec_or_data_that_is_not_ours() -> None:
    fields = [
        {"manager": "cg-operator", "operation": "Apply", "time": "2026-12-02T10:00:05Z"},
        {
            "manager": "kube-controller-manager",
            "operation": "Update",
            "subresource": "status",
            "time": "2026-12-02T10:00:09Z",
        },
        {"manager": "kubectl-edit", "operation": "Update", "time": "2026-12-02T09:00:00Z"},
        {"manager": "rogue-autoscaler", "operation": "Update", "time": "2026-12-02T10:00:07Z"},
    ]
    assert other_writer(fields, "cg-operator") == "rogue-autoscaler"
    assert other_writer(fields[:2], "cg-operator") is None


# --- Large data kept as digests ----------------------------------------------------------


def test_a_large_data_map_is_kept_as_digests_and_still_compared() -> None:
    big = "x" * (LARGE_DATA_BYTES + 1)
    stranger = {"kind": "ConfigMap", "metadata": {"name": "junk"}, "data": {"blob": big}}
    kept = compact(stranger)
    assert isinstance(kept["data"], Digests)
    assert len(kept["data"]["blob"]) == 64, "a digest, not the megabyte"
    assert plain_data(kept) is None, "never read as values"
    assert difference({"kind": "ConfigMap", "data": {"blob": big}}, kept) is None
    assert difference({"kind": "ConfigMap", "data": {"blob": "small"}}, kept) == ".data.blob"
    small = {"kind": "ConfigMap", "metadata": {"name": "ours"}, "data": {"A": "1"}}
    assert compact(small) is small
    assert plain_data(small) == {"A": "1"}


def test_the_other_writer_is_the_one_owning_the_changed_field_even_if_not_the_last() -> None:
    fields = [
        {
            "manager": "rogue-autoscaler",
            "operation": "Update",
            "time": "2026-12-02T10:00:01Z",
            "fieldsV1": {"f:spec": {"f:replicas": {}}},
        },
        {
            "manager": "kube-controller-manager",
            "operation": "Update",
            "time": "2026-12-02T10:00:02Z",
            "fieldsV1": {
                "f:metadata": {"f:annotations": {"f:deployment.kubernetes.io/revision": {}}}
            },
        },
    ]
    assert other_writer(fields, "cg-operator", ".spec.replicas") == "rogue-autoscaler"
    assert other_writer(fields, "cg-operator", ".spec.template.spec.containers[0].image") == (
        "kube-controller-manager"
    ), "no owner of the path: the last writer"
    assert foreign_managers(fields, "rogue-autoscaler") == [fields[1]]
