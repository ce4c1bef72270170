"""Which children the operator keeps: only those in tenant namespaces (handlers/scope)."""

from __future__ import annotations

from collections.abc import Iterator

import kopf
import pytest

from cg_operator.handlers import observed
from cg_operator.handlers.scope import TENANT_NAMESPACES, is_tenant_namespace, labels_tenant


@pytest.fixture(autouse=True)
def _empty_scope() -> Iterator[None]:
    TENANT_NAMESPACES.clear()
    yield
    TENANT_NAMESPACES.clear()


def _index_filters() -> dict[str, object]:
    registry = kopf.get_default_registry()
    return {
        handler.id: handler.when
        for handler in registry._indexing.get_all_handlers()
        if handler.id.startswith("observed_")
    }


def test_only_namespaces_labelled_for_a_tenant_are_in_scope() -> None:
    assert not is_tenant_namespace("team-x")
    TENANT_NAMESPACES.admit("gm0363-amsterdam")
    assert is_tenant_namespace("gm0363-amsterdam")
    assert not is_tenant_namespace("team-x")
    assert not is_tenant_namespace(None)  # a cluster-scoped object is not "in" a namespace
    assert labels_tenant({"metadata": {"labels": {"appstore.commonground.nl/tenant": "a"}}})
    assert not labels_tenant({"metadata": {"labels": {"app.kubernetes.io/managed-by": "x"}}})


def test_every_labelled_child_index_keeps_only_tenant_namespaces() -> None:
    filters = _index_filters()
    assert set(filters) == {kind.index_name for kind in observed.CHILD_KINDS}
    for kind in observed.CHILD_KINDS:
        when = filters[kind.index_name]
        if kind.kind in ("Namespace", "ComponentInstallation"):
            assert when is None, f"every {kind.kind} is kept"
            continue
        assert callable(when), kind.plural
        assert when(namespace="team-x") is False, kind.plural
        TENANT_NAMESPACES.admit("gm0363-amsterdam")
        assert when(namespace="gm0363-amsterdam") is True, kind.plural
        TENANT_NAMESPACES.clear()
