"""What the operator has seen of its children: kopf indexes, pre-populated before any handler
runs, so a restart compares against the cluster instead of re-applying everything.

Every child kind is watched with the server-side label selector managed-by=cg-operator (see
settings), indexed by namespace, and kept only in tenant namespaces (see scope).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import kopf

from cg_operator.api.constants import (
    FIELD_MANAGER,
    GROUP,
    LABEL_INSTALLATION,
    LABEL_TENANT,
    VERSION,
)
from cg_operator.api.kinds import INSTALLATION
from cg_operator.api.refs import Ref
from cg_operator.handlers.monitoring import CHILD_INDEX_PREFIX, watch_event
from cg_operator.handlers.scope import TENANT_NAMESPACES, is_tenant_namespace, labels_tenant
from cg_operator.k8s import objects
from cg_operator.reconcile.diff import compact
from cg_operator.reconcile.exposure import GATEWAY_API
from cg_operator.reconcile.kept import is_kept, kept

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChildKind:
    """A kind the operator creates: (group, version, plural) for kopf, apiVersion/kind for refs."""

    group: str
    version: str
    plural: str
    api_version: str
    kind: str

    @property
    def index_name(self) -> str:
        """The kwarg kopf passes the index as."""
        return f"{CHILD_INDEX_PREFIX}{self.plural}"


CHILD_KINDS: tuple[ChildKind, ...] = (
    ChildKind("", "v1", "namespaces", "v1", "Namespace"),
    ChildKind("", "v1", "resourcequotas", "v1", "ResourceQuota"),
    ChildKind("", "v1", "limitranges", "v1", "LimitRange"),
    ChildKind("", "v1", "serviceaccounts", "v1", "ServiceAccount"),
    ChildKind("", "v1", "configmaps", "v1", "ConfigMap"),
    ChildKind("", "v1", "secrets", "v1", "Secret"),
    ChildKind("", "v1", "persistentvolumeclaims", "v1", "PersistentVolumeClaim"),
    ChildKind("", "v1", "services", "v1", "Service"),
    ChildKind("apps", "v1", "deployments", "apps/v1", "Deployment"),
    ChildKind("apps", "v1", "statefulsets", "apps/v1", "StatefulSet"),
    ChildKind("batch", "v1", "jobs", "batch/v1", "Job"),
    ChildKind("policy", "v1", "poddisruptionbudgets", "policy/v1", "PodDisruptionBudget"),
    ChildKind(
        "networking.k8s.io", "v1", "networkpolicies", "networking.k8s.io/v1", "NetworkPolicy"
    ),
    ChildKind("networking.k8s.io", "v1", "ingresses", "networking.k8s.io/v1", "Ingress"),
    # Served only where the Gateway API CRDs are installed: kopf watches a kind once its CRD
    # appears, and until then this index stays empty (see LATE_KINDS).
    ChildKind("gateway.networking.k8s.io", "v1", "httproutes", GATEWAY_API, "HTTPRoute"),
    ChildKind(GROUP, VERSION, INSTALLATION.plural, INSTALLATION.group_version, INSTALLATION.kind),
)
BY_KIND = {(k.api_version, k.kind): k for k in CHILD_KINDS}

# Child kinds whose CRD may be installed while the operator runs. kopf starts watching such a kind
# when an event of its CRD finds it in discovery: it rescans a group on each CRD event and never
# after (kopf/_core/reactor/observation.py, process_discovered_resource_event). Where discovery
# lags the CRD's last event, as on a loaded API server, kopf does not watch the kind until the
# operator restarts, and an object of it never reaches its index. So an object of these kinds
# that the index lacks is read from the API server: without that, an applied HTTPRoute would
# look missing on every pass, be applied again, and keep its installation from Ready.
LATE_KINDS = frozenset({(GATEWAY_API, "HTTPRoute")})
_told_unwatched: set[tuple[str, str]] = set()


def _kept(body: kopf.Body) -> dict[str, Any]:
    """The copy the index keeps (reconcile/kept). The watch already made it (handlers/kept_watch):
    the index shares its parts with the event instead of holding a second copy."""
    copy = dict(body)
    if is_kept(copy, FIELD_MANAGER):
        return compact(copy)  # unchanged when the watch made it; a stranger's large data else
    return kept(copy, FIELD_MANAGER)


def _register(kind: ChildKind) -> None:
    def in_scope(namespace: str | None, **_: Any) -> bool:
        if is_tenant_namespace(namespace):
            return True
        # Counted here: an event the filter turns away never reaches the index function, and it
        # still shows the watch is alive.
        watch_event(kind.plural)
        return False

    # async: kopf runs a sync handler on its thread pool, a hand-off per event of every child.
    async def index(namespace: str | None, body: kopf.Body, **_: Any) -> dict[str, dict[str, Any]]:
        watch_event(kind.plural)
        if kind.kind == "Namespace" and labels_tenant(body):
            TENANT_NAMESPACES.admit(body.meta["name"])
        return {namespace or "": _kept(body)}

    index.__name__ = kind.index_name
    # Labelled children are kept only in tenant namespaces (handlers/scope); kopf drops an
    # object from the index as soon as its filter stops matching. Kept everywhere: Namespaces
    # (only cluster-level rights label one) and ComponentInstallations (writing one takes a
    # grant on our own kind, and one outside its tenant's namespace must be seen to be refused).
    when = None if kind.kind == "Namespace" or kind.group == GROUP else in_scope
    kopf.index(kind.group, kind.version, kind.plural, id=kind.index_name, when=when)(index)


for _kind in CHILD_KINDS:
    _register(_kind)


T = TypeVar("T")


def _read_unindexed(ref: Ref) -> dict[str, Any] | None:
    """An object of a late kind, read from the API server (one GET; only while its index lacks
    it, so a kind kopf watches costs this once, before the object is created)."""
    live = objects.get(ref)
    if live is None:
        return None
    kind = (ref.api_version, ref.kind)
    if kind not in _told_unwatched:
        _told_unwatched.add(kind)
        log.warning(
            "%s exists but is not among the watched objects: its CRD was installed after the "
            "operator started and is not watched yet; reading %s objects directly (a restart "
            "of the operator watches them again)",
            ref,
            ref.kind,
        )
    return compact(live)


def snapshot(copy: Callable[[], list[T]]) -> list[T]:
    """A copy of (part of) a kopf index. kopf updates indexes on its event loop while the
    reconcile threads read them; a copy that raced with an update is taken again."""
    for _attempt in range(10):
        try:
            return copy()
        except RuntimeError:  # "dictionary changed size during iteration"
            continue
    return copy()


class Observed:
    """Lookups over the child indexes a handler received in its kwargs."""

    def __init__(self, kwargs: Mapping[str, Any]) -> None:
        self._indexes: dict[tuple[str, str], kopf.Index[str, dict[str, Any]]] = {
            (k.api_version, k.kind): kwargs[k.index_name] for k in CHILD_KINDS
        }

    def in_namespace(self, api_version: str, kind: str, namespace: str) -> Iterator[dict[str, Any]]:
        """Every live object of a kind in a namespace ("" for cluster-scoped kinds)."""
        index = self._indexes[(api_version, kind)]
        if namespace in index:
            yield from snapshot(lambda: list(index[namespace]))

    def get(self, ref: Ref) -> dict[str, Any] | None:
        """The live object, or None."""
        for obj in self.in_namespace(ref.api_version, ref.kind, ref.namespace):
            if obj["metadata"]["name"] == ref.name:
                return obj
        if (ref.api_version, ref.kind) in LATE_KINDS:
            return _read_unindexed(ref)
        return None

    def owned_by_installation(self, namespace: str, installation: str) -> list[dict[str, Any]]:
        """Every child of one installation, of every kind."""
        out = []
        for api_version, kind in self._indexes:
            for obj in self.in_namespace(api_version, kind, namespace):
                if (obj["metadata"].get("labels") or {}).get(LABEL_INSTALLATION) == installation:
                    out.append(obj)
        return out

    def everything_in(self, namespace: str) -> list[dict[str, Any]]:
        """Every object of every watched kind in one namespace."""
        return [
            obj
            for api_version, kind in self._indexes
            if kind != "Namespace"
            for obj in self.in_namespace(api_version, kind, namespace)
        ]

    def tenant_children(self, namespace: str, tenant: str) -> list[dict[str, Any]]:
        """The tenant-level children in its namespace (not those of an installation)."""
        out = []
        for api_version, kind in self._indexes:
            if kind in ("Namespace", "ComponentInstallation"):
                continue
            for obj in self.in_namespace(api_version, kind, namespace):
                labels = obj["metadata"].get("labels") or {}
                if labels.get(LABEL_TENANT) == tenant and LABEL_INSTALLATION not in labels:
                    out.append(obj)
        return out

    def namespaces_of(self, tenant: str) -> set[str]:
        """The namespaces labelled as this tenant's (as the watch last saw them)."""
        return {
            obj["metadata"]["name"]
            for obj in self.in_namespace("v1", "Namespace", "")
            if (obj["metadata"].get("labels") or {}).get(LABEL_TENANT) == tenant
        }

    def installations(self, namespace: str) -> dict[str, dict[str, Any]]:
        """component -> live ComponentInstallation, in one namespace."""
        return {
            obj["spec"]["component"]: obj
            for obj in self.in_namespace(f"{GROUP}/{VERSION}", "ComponentInstallation", namespace)
            if "spec" in obj and "component" in obj["spec"]
        }

    def all_installations(self) -> Iterator[dict[str, Any]]:
        """Every ComponentInstallation in the cluster."""
        index = self._indexes[(f"{GROUP}/{VERSION}", "ComponentInstallation")]
        yield from snapshot(lambda: [obj for store in index.values() for obj in store])
