"""Shards: which process writes a tenant (pure decisions), the work queue's gate that keeps a
shard to its own, and the label and User-Agent its writes carry."""

from __future__ import annotations

import threading
from collections.abc import Hashable, Iterator, Mapping
from typing import Any

import pytest

from cg_operator.api.constants import LABEL_SHARD
from cg_operator.handlers import shards as shard_handlers
from cg_operator.handlers.catalogue import Seen
from cg_operator.handlers.observed import CHILD_KINDS
from cg_operator.handlers.queue import WorkQueue
from cg_operator.k8s import writer
from cg_operator.reconcile.shards import (
    HANDOVER_DEADLINE_SECONDS,
    PRIMARY_SHARD,
    Ownership,
    Shard,
    child_selector,
    ownership,
    shard_of,
)
from tests.support.cluster import wait_for

EAST = Shard("east")
MAIN = Shard(PRIMARY_SHARD)


def tenant(
    name: str = "gm0363-amsterdam", label: str | None = None, last: str | None = None
) -> dict[str, Any]:
    labels = {LABEL_SHARD: label} if label else {}
    status = {"shard": last, "namespace": name} if last else {"namespace": name}
    return {"metadata": {"name": name, "labels": labels}, "spec": {}, "status": status}


def test_one_process_without_shards_owns_every_tenant_and_writes_no_shard() -> None:
    alone = Shard()
    assert ownership(alone, tenant(label="east", last="west")) is Ownership.OWNED
    assert alone.writes_cluster_status
    assert alone.child_labels() == {}
    assert alone.status_fields() == {}
    assert child_selector(alone, "app.kubernetes.io/managed-by=cg-operator") == (
        "app.kubernetes.io/managed-by=cg-operator"
    )


def test_an_unlabelled_tenant_is_the_primary_shards() -> None:
    assert shard_of(tenant()) == PRIMARY_SHARD
    assert ownership(MAIN, tenant()) is Ownership.OWNED
    assert ownership(EAST, tenant()) is Ownership.OTHERS


def test_a_tenant_labelled_for_a_shard_is_that_shards_alone() -> None:
    labelled = tenant(label="east")
    assert ownership(EAST, labelled) is Ownership.OWNED
    assert ownership(MAIN, labelled) is Ownership.OTHERS
    assert ownership(Shard("west"), labelled) is Ownership.OTHERS


def test_a_moved_tenant_waits_for_the_old_shard_to_hand_it_over() -> None:
    moved = tenant(label="east", last="main")
    assert ownership(MAIN, moved) is Ownership.RELEASING
    assert ownership(EAST, moved) is Ownership.AWAITING_HANDOVER
    assert ownership(EAST, moved, waited=1.0) is Ownership.AWAITING_HANDOVER
    handed_over = tenant(label="east", last="east")
    assert ownership(EAST, handed_over) is Ownership.OWNED
    assert ownership(MAIN, handed_over) is Ownership.OTHERS


def test_a_shard_that_never_hands_over_is_taken_to_be_gone_after_the_deadline() -> None:
    moved = tenant(label="east", last="main")
    assert ownership(EAST, moved, waited=HANDOVER_DEADLINE_SECONDS) is Ownership.OWNED
    # The deadline never lets a shard take a tenant labelled for another.
    assert ownership(Shard("west"), moved, waited=3600.0) is Ownership.OTHERS


def test_a_tenant_moved_back_before_the_handover_stays_where_it_was() -> None:
    assert ownership(MAIN, tenant(label="main", last="main")) is Ownership.OWNED


def test_only_the_primary_writes_the_cluster_wide_status() -> None:
    assert MAIN.writes_cluster_status
    assert not EAST.writes_cluster_status


def test_a_shard_watches_and_labels_what_it_writes() -> None:
    assert EAST.child_labels() == {LABEL_SHARD: "east"}
    assert EAST.status_fields() == {"shard": "east"}
    assert child_selector(EAST, "app.kubernetes.io/managed-by=cg-operator") == (
        f"app.kubernetes.io/managed-by=cg-operator,{LABEL_SHARD}=east"
    )


@pytest.fixture
def as_writer() -> Iterator[None]:
    yield
    writer.configure({}, None)


@pytest.mark.usefixtures("as_writer")
def test_every_write_of_a_shard_carries_its_label_and_names_it_to_the_api_server() -> None:
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "labels": {"a": "b"}}}
    assert writer.labelled(obj) == obj
    assert "shard" not in writer.user_agent()
    writer.configure(EAST.child_labels(), "east")
    assert writer.labelled(obj)["metadata"]["labels"] == {"a": "b", LABEL_SHARD: "east"}
    assert obj["metadata"]["labels"] == {"a": "b"}, "the caller's object is left alone"
    assert writer.user_agent().startswith("cg-operator/")
    assert writer.user_agent().endswith(" shard/east")


def test_the_queue_runs_only_what_its_gate_lets_through() -> None:
    queue = WorkQueue(workers=1)
    runs: list[Hashable] = []
    queue.set_gate(lambda key, _context: key != "theirs")
    for key in ("theirs", "mine"):
        queue.add(key, lambda k, _c: runs.append(k), {})
    wait_for("the queue to drain", queue.idle, timeout=5, interval=0.01)
    assert runs == ["mine"]


def test_waiting_for_a_running_pass_ends_when_it_ends() -> None:
    queue = WorkQueue(workers=2)
    started, release = threading.Event(), threading.Event()

    def slow(_key: Hashable, _context: Mapping[str, Any]) -> None:
        started.set()
        release.wait(5)

    queue.add(("componentinstallations", "gm0363-amsterdam", "open-zaak"), slow, {})
    assert started.wait(5)

    def in_amsterdam(key: Hashable) -> bool:
        return isinstance(key, tuple) and key[1] == "gm0363-amsterdam"

    assert not queue.wait_until_none_running(in_amsterdam, timeout=0.2)
    assert queue.wait_until_none_running(lambda key: key == "elsewhere", timeout=0.2)
    threading.Timer(0.2, release.set).start()
    assert queue.wait_until_none_running(in_amsterdam, timeout=5)


def _context(*tenants: dict[str, Any]) -> dict[str, Any]:
    context: dict[str, Any] = {k.index_name: {} for k in CHILD_KINDS}
    context["tenant_index"] = {t["metadata"]["name"]: [Seen(body=t)] for t in tenants}
    return context


@pytest.fixture
def east(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, float]]]:
    """This process is the shard east; the tenant passes it asks for, recorded (not run)."""
    from cg_operator.handlers import tenant as tenant_handlers  # noqa: PLC0415

    asked: list[tuple[str, float]] = []
    monkeypatch.setattr(
        tenant_handlers,
        "enqueue_tenant",
        lambda name, _context, delay=0.0: asked.append((name, delay)),
    )
    shard_handlers.configure(EAST)
    yield asked
    shard_handlers.reset()


@pytest.mark.usefixtures("east")
def test_a_shard_runs_its_tenants_passes_and_no_cluster_wide_status() -> None:
    mine, theirs = tenant("gm0014-groningen", label="east"), tenant("gm0363-amsterdam")
    context = _context(mine, theirs)
    assert shard_handlers.owns(("municipalitytenants", "gm0014-groningen"), context)
    assert not shard_handlers.owns(("municipalitytenants", "gm0363-amsterdam"), context)
    assert not shard_handlers.owns(("cgcomponents", "open-zaak"), context)
    assert not shard_handlers.owns(("componentrollouts", "open-zaak-1-31"), context)
    assert shard_handlers.labelled_here(mine)
    assert not shard_handlers.labelled_here(theirs)


class FakeApi:
    """The calls a handover makes, recorded in order."""

    def __init__(self, tenant_body: dict[str, Any]) -> None:
        self.tenant = tenant_body
        self.calls: list[tuple[str, str, Any]] = []

    def get(self, ref: Any) -> dict[str, Any]:
        return self.tenant

    def merge_patch(self, ref: Any, patch: dict[str, Any]) -> bool:
        self.calls.append(("label", f"{ref.kind}/{ref.name}", patch["metadata"]["labels"]))
        return True

    def post_event(self, obj: Any, **event: Any) -> None:
        self.calls.append(("event", event["reason"], event["message"]))

    def patch_status(self, plural: str, name: str, patch: dict[str, Any]) -> None:
        self.calls.append(("status", name, patch))


def _with_children(context: dict[str, Any], namespace: str) -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "open-zaak", "namespace": namespace},
    }
    context["observed_deployments"] = {namespace: [deployment]}


@pytest.mark.usefixtures("east")
def test_the_old_shard_hands_over_after_its_running_pass_relabelling_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    moved = tenant("gm0014-groningen", label="main", last="east")
    api = FakeApi(moved)
    for name in ("get", "merge_patch", "post_event"):
        monkeypatch.setattr(shard_handlers.objects, name, getattr(api, name))
    monkeypatch.setattr(shard_handlers, "patch_status", api.patch_status)
    context = _context(moved)
    _with_children(context, "gm0014-groningen")
    queue = WorkQueue(workers=2)
    monkeypatch.setattr(shard_handlers, "QUEUE", queue)
    started, release = threading.Event(), threading.Event()

    def running_pass(_key: Hashable, _context: Mapping[str, Any]) -> None:
        started.set()
        release.wait(5)
        api.calls.append(("pass", "open-zaak", None))

    queue.add(("componentinstallations", "gm0014-groningen", "open-zaak"), running_pass, {})
    assert started.wait(5)
    assert shard_handlers.tenant_ownership("gm0014-groningen", moved, context) is (
        Ownership.RELEASING
    )
    threading.Timer(0.3, release.set).start()
    wait_for("the handover", lambda: any(c[0] == "status" for c in api.calls), timeout=10)
    assert api.calls[0] == ("pass", "open-zaak", None), "the running pass ends first"
    assert api.calls[1][:2] == ("event", "ShardHandover")
    assert api.calls[2:4] == [
        ("label", "Namespace/gm0014-groningen", {LABEL_SHARD: "main"}),
        ("label", "Deployment/open-zaak", {LABEL_SHARD: "main"}),
    ]
    assert api.calls[-1] == ("status", "gm0014-groningen", {"shard": "main"})


def test_the_new_shard_waits_for_the_handover_then_takes_the_tenant(
    east: list[tuple[str, float]],
) -> None:
    waiting = tenant("gm0363-amsterdam", label="east", last="main")
    context = _context(waiting)
    assert not shard_handlers.owns(("municipalitytenants", "gm0363-amsterdam"), context)
    # Looked at again when the deadline for a gone shard ends.
    assert east == [("gm0363-amsterdam", HANDOVER_DEADLINE_SECONDS)]
    handed = tenant("gm0363-amsterdam", label="east", last="east")
    assert shard_handlers.owns(("municipalitytenants", "gm0363-amsterdam"), _context(handed))
