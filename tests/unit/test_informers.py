"""The children's own watches (handlers/informers): what each store keeps from kopf's list+watch
stream, whom a change wakes, and how the streams start."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import kopf
import pytest
from kopf._cogs.clients import errors, watching
from kopf._cogs.structs import references

from cg_operator.api.constants import FIELD_MANAGER, LABEL_MANAGED_BY, LABEL_TENANT, MANAGED_BY
from cg_operator.api.refs import Ref
from cg_operator.handlers import informers
from cg_operator.handlers.informers import Informer, Informers
from cg_operator.handlers.observed import BY_KIND, INFORMED_KINDS, ChildStore, Observed
from cg_operator.handlers.scope import TENANT_NAMESPACES
from cg_operator.reconcile.diff import LARGE_DATA_BYTES, Digests, digest
from cg_operator.reconcile.kept import is_kept, kept

TENANT_NS = "gm0363-amsterdam"
DEPLOYMENTS = BY_KIND["apps/v1", "Deployment"]
NAMESPACES = BY_KIND["v1", "Namespace"]
LIVE = Path(__file__).parents[1] / "data" / "live"


@pytest.fixture(autouse=True)
def _scope() -> Iterator[None]:
    TENANT_NAMESPACES.clear()
    TENANT_NAMESPACES.admit(TENANT_NS)
    yield
    TENANT_NAMESPACES.clear()


def deployment(name: str, namespace: str = TENANT_NS, version: str = "1") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "resourceVersion": version},
        "spec": {"replicas": 1},
    }


def listing(*objects: dict[str, Any]) -> list[Any]:
    return [*({"type": None, "object": o} for o in objects), watching.Bookmark.LISTED]


def feed(informer: Informer, events: list[Any]) -> list[tuple[str, str]]:
    """Every change the events make, as (type, name)."""
    return [
        (change, obj["metadata"]["name"])
        for event in events
        for change, obj in informer.receive(event)
    ]


def names(store: ChildStore, namespace: str = TENANT_NS) -> list[str]:
    return sorted(o["metadata"]["name"] for o in store.get(namespace, []))


def test_the_first_listing_fills_the_store_with_kept_copies_and_wakes_no_one() -> None:
    store = ChildStore()
    informer = Informer(DEPLOYMENTS, store)
    live = json.loads((LIVE / "deployment.json").read_text())
    live["metadata"]["namespace"] = TENANT_NS
    assert feed(informer, listing(live, deployment("objecten"))[:-1]) == []
    assert not informer.synced  # not before the listing is complete
    assert feed(informer, [watching.Bookmark.LISTED]) == []
    assert informer.synced
    assert names(store) == sorted([live["metadata"]["name"], "objecten"])
    kept_copy = store.get_object(TENANT_NS, live["metadata"]["name"])
    assert kept_copy is not None
    assert is_kept(kept_copy, FIELD_MANAGER)
    assert "managedFields" in live["metadata"]  # the decoded event is not changed in place


def test_watch_events_change_the_store_and_wake_the_owner() -> None:
    store = ChildStore()
    informer = Informer(DEPLOYMENTS, store)
    feed(informer, listing(deployment("open-zaak")))
    events = [
        {"type": "ADDED", "object": deployment("objecten")},
        {"type": "MODIFIED", "object": deployment("open-zaak", version="2")},
        {"type": "DELETED", "object": deployment("objecten", version="3")},
        {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "4"}}},
    ]
    assert feed(informer, events) == [
        ("ADDED", "objecten"),
        ("MODIFIED", "open-zaak"),
        ("DELETED", "objecten"),
    ]
    assert names(store) == ["open-zaak"]
    kept_copy = store.get_object(TENANT_NS, "open-zaak")
    assert kept_copy is not None
    assert kept_copy["metadata"]["resourceVersion"] == "2"


def test_children_outside_tenant_namespaces_are_not_kept_but_still_wake_their_owner() -> None:
    """Labels are anyone's to set: a labelled object elsewhere must not grow the store; the
    owner's pass decides whether it concerns it (handlers/triggers)."""
    store = ChildStore()
    informer = Informer(DEPLOYMENTS, store)
    feed(informer, listing(deployment("stray", namespace="team-x"), deployment("open-zaak")))
    assert names(store, "team-x") == []
    assert names(store) == ["open-zaak"]
    moved = {"type": "MODIFIED", "object": deployment("stray", namespace="team-x", version="2")}
    assert feed(informer, [moved]) == [("MODIFIED", "stray")]
    assert "team-x" not in store


def test_namespaces_are_kept_and_a_labelled_one_comes_into_scope() -> None:
    store = ChildStore()
    informer = Informer(NAMESPACES, store)
    labelled = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": "gm0599-rotterdam",
            "resourceVersion": "5",
            "labels": {LABEL_TENANT: "gm0599-rotterdam", LABEL_MANAGED_BY: MANAGED_BY},
        },
    }
    feed(informer, listing())
    assert feed(informer, [{"type": "ADDED", "object": labelled}]) == [
        ("ADDED", "gm0599-rotterdam")
    ]
    assert names(store, "") == ["gm0599-rotterdam"]
    assert "gm0599-rotterdam" in TENANT_NAMESPACES


def test_a_new_listing_drops_what_vanished_and_tells_what_changed_meanwhile() -> None:
    """After "410 Gone" kopf's stream lists again: what the watch missed is found here."""
    store = ChildStore()
    informer = Informer(DEPLOYMENTS, store)
    feed(informer, listing(deployment("a"), deployment("b"), deployment("c")))
    again = listing(deployment("a"), deployment("b", version="2"), deployment("d"))
    assert sorted(feed(informer, again)) == [
        ("ADDED", "d"),
        ("DELETED", "c"),
        ("MODIFIED", "b"),
    ]
    assert names(store) == ["a", "b", "d"]
    assert feed(informer, listing()) == [("DELETED", n) for n in ("a", "b", "d")]
    assert "gm0363-amsterdam" not in store


def test_a_listing_cut_short_does_not_count_as_listed_in_the_next() -> None:
    """kopf's list+watch returns quietly when the connection drops mid-listing; the next round
    lists anew, and what it lacks is gone even if the cut listing had it."""
    store = ChildStore()
    informer = Informer(DEPLOYMENTS, store)
    feed(informer, listing(deployment("a"), deployment("b")))
    feed(informer, [{"type": None, "object": deployment("a")}])  # the connection drops here
    informer.begin()
    assert feed(informer, listing(deployment("b"))) == [("DELETED", "a")]
    assert names(store) == ["b"]


def test_a_namespaced_listing_drops_only_what_vanished_from_its_namespace() -> None:
    TENANT_NAMESPACES.admit("gm0599-rotterdam")
    store = ChildStore()
    amsterdam = Informer(DEPLOYMENTS, store, TENANT_NS)
    rotterdam = Informer(DEPLOYMENTS, store, "gm0599-rotterdam")
    feed(amsterdam, listing(deployment("a")))
    feed(rotterdam, listing(deployment("r", namespace="gm0599-rotterdam")))
    assert feed(amsterdam, listing()) == [("DELETED", "a")]
    assert names(store, "gm0599-rotterdam") == ["r"]


def test_observed_reads_the_stores() -> None:
    store = informers.STORES[DEPLOYMENTS.index_name]
    informer = Informer(DEPLOYMENTS, store)
    try:
        feed(informer, listing(deployment("open-zaak")))
        view = Observed({"observed_componentinstallations": {}})  # kopf passes its index
        assert view.get(Ref("apps/v1", "Deployment", TENANT_NS, "open-zaak")) is not None
        assert view.get(Ref("apps/v1", "Deployment", TENANT_NS, "objecten")) is None
        listed = view.in_namespace("apps/v1", "Deployment", TENANT_NS)
        assert [o["metadata"]["name"] for o in listed] == ["open-zaak"]
    finally:
        store.drop(TENANT_NS, "open-zaak")


def test_a_packed_store_hands_each_reader_its_own_equal_copy() -> None:
    store = ChildStore()
    live = json.loads((LIVE / "job.json").read_text())
    live["metadata"]["namespace"] = TENANT_NS
    copy = kept(live, FIELD_MANAGER, share=False)
    assert store.put(copy) is None
    name = live["metadata"]["name"]

    read = store.get_object(TENANT_NS, name)
    assert read == copy
    assert read is not None
    read["spec"]["template"]["metadata"]["labels"]["changed"] = "by a reader"
    assert store.get_object(TENANT_NS, name) == copy  # what one reader changes, no one sees
    assert store[TENANT_NS] == [copy]
    assert store.put(copy) == live["metadata"]["resourceVersion"]  # what it replaced
    assert store.drop(TENANT_NS, name) == copy
    assert store.get_object(TENANT_NS, name) is None


def test_large_data_stays_a_digest_map_in_a_packed_store() -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "open-zaak-secrets", "namespace": TENANT_NS},
        "data": {"key": "x" * (LARGE_DATA_BYTES + 1)},
    }
    store = ChildStore()
    store.put(kept(secret, FIELD_MANAGER, share=False))
    read = store.get_object(TENANT_NS, "open-zaak-secrets")
    assert read is not None
    assert isinstance(read["data"], Digests)  # compared by digest (reconcile/diff)
    assert read["data"]["key"] == digest("x" * (LARGE_DATA_BYTES + 1))


def test_only_the_stores_read_by_scanning_are_kept_decoded() -> None:
    # Each pass scans the Namespaces for its tenant's scope: unpickling them all every time
    # would cost more than they hold.
    decoded = {name for name, store in informers.STORES.items() if not store.packed}
    assert decoded == {NAMESPACES.index_name}


def test_limited_to_namespaces_each_namespaced_kind_has_a_stream_per_namespace() -> None:
    group = Informers(INFORMED_KINDS, {k.index_name: ChildStore() for k in INFORMED_KINDS})
    assert len(group.informers) == len(INFORMED_KINDS)
    assert {i.namespace for i in group.informers} == {None}
    group.configure(["gm0363-amsterdam", "gm0599-rotterdam"])
    wheres = {(i.kind.kind, i.namespace) for i in group.informers}
    assert ("Namespace", None) in wheres
    assert ("Deployment", "gm0363-amsterdam") in wheres
    assert ("Deployment", "gm0599-rotterdam") in wheres
    assert ("Deployment", None) not in wheres
    assert len(group.informers) == 1 + 2 * (len(INFORMED_KINDS) - 1)
    assert not group.synced()
    for informer in group.informers:
        informer.receive(watching.Bookmark.LISTED)
    assert group.synced()


class FakeStreams:
    """kopf's list+watch, faked: per plural, the calls made and what each call yields
    (an exception is raised); the last script repeats."""

    def __init__(self, scripts: dict[str, list[list[Any] | Exception]]) -> None:
        self.scripts = scripts
        self.calls: list[tuple[str, Any, Any]] = []

    async def __call__(
        self, *, settings: Any, resource: references.Resource, namespace: Any, **_: Any
    ) -> AsyncIterator[Any]:
        plural = resource.plural
        self.calls.append((plural, namespace, settings))
        script = self.scripts.get(plural, [[watching.Bookmark.LISTED]])
        taken = sum(1 for call in self.calls if call[0] == plural) - 1
        step = script[min(taken, len(script) - 1)]
        if isinstance(step, Exception):
            raise step
        for event in step:
            yield event
        await asyncio.Event().wait()  # a watch stays open


def _not_found() -> errors.APINotFoundError:
    return errors.APINotFoundError({"code": 404, "message": "not found"}, status=404, headers={})


def test_the_streams_start_after_the_settings_and_the_scope_and_a_late_kind_is_asked_for_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first listing must go out with the managed-by selector (never every Secret of the
    cluster) and find the tenant namespaces in scope, whatever order kopf runs its hooks in."""
    route = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "open-zaak", "namespace": TENANT_NS, "resourceVersion": "1"},
    }
    streams = FakeStreams(
        {
            "deployments": [listing(deployment("open-zaak"))],
            "httproutes": [_not_found(), listing(route)],
        }
    )
    monkeypatch.setattr(watching, "continuous_watch", streams)
    monkeypatch.setattr(informers, "LATE_KIND_RETRY_SECONDS", 0.01)
    TENANT_NAMESPACES.clear()
    monkeypatch.setattr(
        informers, "load_tenant_namespaces", lambda: TENANT_NAMESPACES.admit(TENANT_NS)
    )
    stores = {k.index_name: ChildStore() for k in INFORMED_KINDS}
    group = Informers(INFORMED_KINDS, stores)
    monkeypatch.setattr(informers, "INFORMERS", group)
    woken: list[tuple[str, str, str]] = []
    monkeypatch.setattr(
        informers,
        "_wake_owner",
        lambda change, obj, plural: woken.append((change, plural, obj["metadata"]["name"])),
    )
    settings = kopf.OperatorSettings()

    async def run() -> None:
        await informers.start_watching(settings=settings)
        for _ in range(500):
            if stores[BY_KIND["gateway.networking.k8s.io/v1", "HTTPRoute"].index_name]:
                break
            await asyncio.sleep(0.01)
        await informers.stop_watching()

    asyncio.run(run())
    selector = settings.watching.label_selectors.collect(
        references.Resource(group="", version="v1", plural="secrets")
    )
    assert any(f"{LABEL_MANAGED_BY}={MANAGED_BY}" in s for s in selector)
    assert all(call[2] is settings for call in streams.calls)
    assert group.synced()
    assert names(stores[DEPLOYMENTS.index_name]) == ["open-zaak"]
    routes = stores[BY_KIND["gateway.networking.k8s.io/v1", "HTTPRoute"].index_name]
    assert names(routes) == ["open-zaak"]
    # The late kind's first listing is news (its owner applied it before it was watched); the
    # other kinds' first listings are not.
    assert woken == [("ADDED", "httproutes", "open-zaak")]
    assert [c[0] for c in streams.calls].count("httproutes") == 2


def test_kopf_s_list_and_watch_has_the_shape_the_watches_call() -> None:
    informers.check_kopf()


def test_a_list_and_watch_of_another_shape_stops_the_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def reshaped(*, settings: Any, resource: Any) -> AsyncIterator[Any]:
        yield resource

    monkeypatch.setattr(watching, "continuous_watch", reshaped)
    with pytest.raises(RuntimeError, match=r"namespace, operator_pause_waiter.*informers\.py"):
        informers.check_kopf()
