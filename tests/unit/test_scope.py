"""Which children the operator keeps: only those in tenant namespaces (handlers/scope)."""

from __future__ import annotations

from collections.abc import Iterator

import kopf
import pytest

from cg_operator.handlers import observed
from cg_operator.handlers.informers import keeps
from cg_operator.handlers.scope import TENANT_NAMESPACES, is_tenant_namespace, labels_tenant


@pytest.fixture(autouse=True)
def _empty_scope() -> Iterator[None]:
    TENANT_NAMESPACES.clear()
    yield
    TENANT_NAMESPACES.clear()


def test_only_namespaces_labelled_for_a_tenant_are_in_scope() -> None:
    assert not is_tenant_namespace("team-x")
    TENANT_NAMESPACES.admit("gm0363-amsterdam")
    assert is_tenant_namespace("gm0363-amsterdam")
    assert not is_tenant_namespace("team-x")
    assert not is_tenant_namespace(None)  # a cluster-scoped object is not "in" a namespace
    assert labels_tenant({"metadata": {"labels": {"appstore.commonground.nl/tenant": "a"}}})
    assert not labels_tenant({"metadata": {"labels": {"app.kubernetes.io/managed-by": "x"}}})


def test_every_watched_child_kind_keeps_only_tenant_namespaces_but_namespaces() -> None:
    namespaced = {"metadata": {"name": "x", "namespace": "team-x"}}
    in_tenant = {"metadata": {"name": "x", "namespace": "gm0363-amsterdam"}}
    for kind in observed.INFORMED_KINDS:
        if kind.kind == "Namespace":
            assert keeps(kind, {"metadata": {"name": "team-x"}}), "every Namespace is kept"
            continue
        assert not keeps(kind, namespaced), kind.plural
        TENANT_NAMESPACES.admit("gm0363-amsterdam")
        assert keeps(kind, in_tenant), kind.plural
        TENANT_NAMESPACES.clear()


def test_installations_are_kopf_s_index_and_kept_everywhere() -> None:
    """Writing one takes a grant on our own kind, and one outside its tenant's namespace must
    be seen to be refused."""
    indexing = kopf.get_default_registry()._indexing.get_all_handlers()
    children = [h for h in indexing if h.id.startswith("observed_")]
    assert [h.id for h in children] == ["observed_componentinstallations"]
    assert children[0].when is None
