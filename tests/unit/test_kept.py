"""The copy of a child the operator keeps: nothing a pass compares or reads is lost, and repeated
strings are shared across copies (the watches keep it: tests/unit/test_informers.py)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from cg_operator.api.constants import FIELD_MANAGER
from cg_operator.reconcile.diff import LARGE_DATA_BYTES, Digests, difference, other_writer
from cg_operator.reconcile.kept import SHARED_STRING_MAX, is_kept, kept

LIVE = Path(__file__).parents[1] / "data" / "live"


def _live(name: str) -> dict[str, Any]:
    """An object as the API server returned it to a watch (managedFields included): the
    benchmark fleet's, read from a cluster."""
    return json.loads((LIVE / name).read_text())


def _without_own_entry(obj: dict[str, Any]) -> dict[str, Any]:
    expected = copy.deepcopy(obj)
    entries = expected["metadata"].pop("managedFields")
    foreign = [e for e in entries if e["manager"] != FIELD_MANAGER and not e.get("subresource")]
    if foreign:
        expected["metadata"]["managedFields"] = foreign
    return expected


@pytest.mark.parametrize("name", ["deployment.json", "job.json"])
def test_the_kept_copy_is_the_object_without_the_operators_own_managed_fields(name: str) -> None:
    live = _live(name)
    assert any(e["manager"] == FIELD_MANAGER for e in live["metadata"]["managedFields"])
    copy_ = kept(live, FIELD_MANAGER)
    # Equal in everything else, spec and status and every label and annotation: what a pass
    # compares (reconcile/diff) or reads (readiness, the configuration Job's env) is all there.
    assert copy_ == _without_own_entry(live)
    assert is_kept(copy_, FIELD_MANAGER)
    assert not is_kept(live, FIELD_MANAGER)
    assert kept(copy_, FIELD_MANAGER) == copy_


def test_a_change_someone_else_made_is_seen_and_named_in_the_kept_copy() -> None:
    live = _live("deployment.json")
    desired = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": live["metadata"]["name"], "namespace": live["metadata"]["namespace"]},
        "spec": copy.deepcopy(live["spec"]),
    }
    container = live["spec"]["template"]["spec"]["containers"][0]
    container["image"] = "example.org/patched:1"
    live["metadata"]["managedFields"].append(
        {
            "manager": "kubectl-edit",
            "operation": "Update",
            "time": "2026-12-05T03:00:00Z",
            "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {}}}}},
        }
    )
    copy_ = kept(live, FIELD_MANAGER)
    path = difference(desired, copy_)
    assert path == difference(desired, live) == ".spec.template.spec.containers[0].image"
    assert other_writer(copy_["metadata"]["managedFields"], FIELD_MANAGER, path) == "kubectl-edit"


def test_copies_decoded_apart_share_their_keys_and_short_values() -> None:
    text = (LIVE / "deployment.json").read_text()
    first, second = (kept(json.loads(text), FIELD_MANAGER) for _ in range(2))
    one = first["spec"]["template"]["spec"]["containers"][0]
    other = second["spec"]["template"]["spec"]["containers"][0]
    assert one["image"] is other["image"]
    assert next(iter(one)) is next(iter(other))
    long_value = "x" * (SHARED_STRING_MAX + 1)
    assert kept({"metadata": {}, "data": {"k": long_value}}, FIELD_MANAGER)["data"]["k"] == (
        long_value
    )
    # Two decodings of a long value stay two objects: interning the unique would only add.
    a = kept(json.loads(json.dumps({"metadata": {"uid": long_value}})), FIELD_MANAGER)
    b = kept(json.loads(json.dumps({"metadata": {"uid": long_value}})), FIELD_MANAGER)
    assert a["metadata"]["uid"] == b["metadata"]["uid"]
    assert a["metadata"]["uid"] is not b["metadata"]["uid"]


def test_large_data_is_kept_as_digests_and_stays_digests() -> None:
    big = {"kind": "ConfigMap", "metadata": {}, "data": {"a": "x" * (LARGE_DATA_BYTES + 1)}}
    copy_ = kept(big, FIELD_MANAGER)
    assert isinstance(copy_["data"], Digests)
    assert isinstance(kept(copy_, FIELD_MANAGER)["data"], Digests)
