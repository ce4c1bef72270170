"""The operator's view of its children: kopf's indexes, and a direct read for a route kind whose
CRD was installed after kopf stopped looking for new kinds."""

from __future__ import annotations

from typing import Any

import pytest

from cg_operator.api.refs import Ref
from cg_operator.handlers import observed as observed_module
from cg_operator.handlers.observed import CHILD_KINDS, Observed

ROUTE = Ref("gateway.networking.k8s.io/v1", "HTTPRoute", "gm0363-amsterdam", "open-zaak")
DEPLOYMENT = Ref("apps/v1", "Deployment", "gm0363-amsterdam", "open-zaak")


def live(ref: Ref) -> dict[str, Any]:
    return {
        "apiVersion": ref.api_version,
        "kind": ref.kind,
        "metadata": {"name": ref.name, "namespace": ref.namespace},
        "spec": {"hostnames": ["zaken.amsterdam.nl"]},
    }


def view(*indexed: Ref) -> Observed:
    """An Observed over indexes holding these objects (a kopf index maps a key to a store)."""
    indexes: dict[str, dict[str, list[dict[str, Any]]]] = {k.index_name: {} for k in CHILD_KINDS}
    by_kind = {(k.api_version, k.kind): k.index_name for k in CHILD_KINDS}
    for ref in indexed:
        index = indexes[by_kind[(ref.api_version, ref.kind)]]
        index.setdefault(ref.namespace, []).append(live(ref))
    return Observed(indexes)


@pytest.fixture
def api_server(monkeypatch: pytest.MonkeyPatch) -> list[Ref]:
    """The objects the API server holds: ROUTE and DEPLOYMENT; the GETs made, in order."""
    reads: list[Ref] = []

    def get(ref: Ref) -> dict[str, Any] | None:
        reads.append(ref)
        return live(ref) if ref in (ROUTE, DEPLOYMENT) else None

    monkeypatch.setattr(observed_module.objects, "get", get)
    return reads


def test_a_route_kopf_does_not_watch_is_read_from_the_api_server(api_server: list[Ref]) -> None:
    found = view().get(ROUTE)
    assert found is not None
    assert found["spec"]["hostnames"] == ["zaken.amsterdam.nl"]
    assert api_server == [ROUTE]


def test_a_route_that_does_not_exist_is_missing(api_server: list[Ref]) -> None:
    other = Ref(ROUTE.api_version, ROUTE.kind, ROUTE.namespace, "objecten")
    assert view().get(other) is None


def test_a_watched_route_costs_no_request(api_server: list[Ref]) -> None:
    assert view(ROUTE).get(ROUTE) is not None
    assert api_server == []


def test_kinds_kopf_always_watches_are_only_read_from_the_index(api_server: list[Ref]) -> None:
    # A Deployment missing from the index is missing: its watch runs from the start, and a GET
    # per lookup would cost a request per child per pass.
    assert view().get(DEPLOYMENT) is None
    assert api_server == []
