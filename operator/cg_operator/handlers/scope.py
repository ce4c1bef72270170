"""The namespaces whose children the operator keeps in memory: the tenant namespaces.

The child watches filter by the managed-by label, and labels are anyone's to set: without a
scope, a ConfigMap labelled managed-by=cg-operator in any namespace would be held in the
operator's indexes, so anyone allowed to create ConfigMaps somewhere could grow its memory.
A watch can be narrowed only by namespace name, and tenant namespaces are named freely, so the
watches stay cluster-wide and the stores keep an object only when its namespace is a tenant
namespace (handlers/informers.keeps): a Namespace carrying the operator's tenant label.
Labelling a Namespace takes cluster-level rights (a namespace's own admins cannot), which is
the boundary the scope relies on.

The scope is filled three ways, so that no child of a tenant namespace is ever dropped:
- at start-up, before any watch starts (handlers/informers), from one list of the labelled
  namespaces, because the first listings of all kinds arrive in any order;
- by the tenant pass when it creates or confirms its namespace, before it writes any child into
  it (the Namespace's own watch event may come later than the children's);
- by the Namespace watch, for a namespace labelled while the operator runs.
A namespace stays in scope until the operator restarts: keeping a name costs nothing, and a
namespace that is deleted takes its children with it.
"""

from __future__ import annotations

import threading
from typing import Any

from cg_operator.api.constants import LABEL_MANAGED_BY, LABEL_TENANT, MANAGED_BY
from cg_operator.k8s import objects
from cg_operator.reconcile.shards import child_selector


class TenantNamespaces:
    """A thread-safe set of namespace names (kopf's loop adds, reconcile threads add and read)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._names: set[str] = set()

    def admit(self, *names: str) -> None:
        """Put namespaces in scope."""
        with self._lock:
            self._names.update(names)

    def __contains__(self, name: object) -> bool:
        with self._lock:
            return name in self._names

    def clear(self) -> None:
        """Forget every namespace (tests)."""
        with self._lock:
            self._names.clear()


TENANT_NAMESPACES = TenantNamespaces()


def is_tenant_namespace(namespace: Any) -> bool:
    """Whether a tenant namespace (what the stores ask of a namespaced child)."""
    return isinstance(namespace, str) and namespace in TENANT_NAMESPACES


def labels_tenant(namespace_body: Any) -> bool:
    """Whether a Namespace carries the operator's tenant label."""
    labels = (namespace_body.get("metadata") or {}).get("labels") or {}
    return LABEL_TENANT in labels


def load_tenant_namespaces() -> None:
    """The tenant namespaces as they are now (this shard's), before any watch starts."""
    # At call time: handlers/shards imports the indexes, which import this module.
    from cg_operator.handlers import shards  # noqa: PLC0415

    selector = child_selector(shards.current(), f"{LABEL_MANAGED_BY}={MANAGED_BY},{LABEL_TENANT}")
    TENANT_NAMESPACES.admit(
        *(ns["metadata"]["name"] for ns in objects.list_objects("v1", "Namespace", "", selector))
    )
