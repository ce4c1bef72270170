"""The copy of a child the operator keeps: nothing a pass compares or reads is lost, repeated
strings are shared across copies, and kopf's watch stream carries it for the children only."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from kopf._cogs.clients import watching
from kopf._cogs.structs import references

from cg_operator.api.constants import FIELD_MANAGER, GROUP
from cg_operator.handlers import kept_watch
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


def _resource(group: str, plural: str) -> references.Resource:
    return references.Resource(group=group, version="v1", plural=plural)


def test_watch_events_of_children_carry_the_kept_copy_and_others_stay_whole() -> None:
    live = _live("deployment.json")
    event = {"type": "MODIFIED", "object": live}
    changed = kept_watch.kept_event(event)
    assert changed["object"] == kept(live, FIELD_MANAGER)
    assert event["object"] is live  # the event and its object are not changed in place
    assert "managedFields" in live["metadata"]
    bookmark = {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "7"}}}
    assert kept_watch.kept_event(bookmark) is bookmark
    assert kept_watch.kept_event(watching.Bookmark.LISTED) is watching.Bookmark.LISTED
    assert kept_watch.keeps(_resource("apps", "deployments"))
    assert kept_watch.keeps(_resource("", "secrets"))
    assert not kept_watch.keeps(_resource(GROUP, "componentinstallations"))
    assert not kept_watch.keeps(_resource(GROUP, "municipalitytenants"))


def test_installed_the_watch_stream_keeps_children_and_closes_the_stream_it_wraps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    closed: list[str] = []

    async def stream(
        *, settings: Any, resource: references.Resource, namespace: Any, **_: Any
    ) -> AsyncIterator[Any]:
        try:
            yield {"type": None, "object": _live("deployment.json")}
            yield watching.Bookmark.LISTED
            yield {"type": "ADDED", "object": _live("deployment.json")}
        finally:
            closed.append(resource.plural)

    monkeypatch.setattr(watching, "infinite_watch", stream)
    kept_watch.install()
    kept_watch.install()  # idempotent: wrapped once
    assert kept_watch.installed()

    async def first_two(resource: references.Resource) -> list[Any]:
        events = watching.infinite_watch(settings=None, resource=resource, namespace=None)
        taken = [await anext(events), await anext(events)]
        await events.aclose()  # as kopf's watcher does when it stops
        return taken

    children = asyncio.run(first_two(_resource("apps", "deployments")))
    assert is_kept(children[0]["object"], FIELD_MANAGER)
    assert children[1] is watching.Bookmark.LISTED
    own = asyncio.run(first_two(_resource(GROUP, "componentinstallations")))
    assert not is_kept(own[0]["object"], FIELD_MANAGER)
    assert closed == ["deployments", "componentinstallations"]


def test_install_refuses_a_watch_stream_of_another_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    async def stream(*, resource: Any) -> AsyncIterator[Any]:
        yield resource

    monkeypatch.setattr(watching, "infinite_watch", stream)
    with pytest.raises(RuntimeError, match="kept_watch"):
        kept_watch.install()
