"""What the operator has seen of its children, pre-populated before any pass runs, so a restart
compares against the cluster instead of re-applying everything.

The built-in kinds are watched by the operator's own list+watch (handlers/informers) into a
ChildStore each; ComponentInstallation, a tenant's child and a kind with handlers of its own, is
kopf's index. Every child kind is watched with the server-side label selector
managed-by=cg-operator (see settings), indexed by namespace, and kept only in tenant namespaces
(see scope).
"""

from __future__ import annotations

import logging
import pickle
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, cast

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
from cg_operator.k8s import objects
from cg_operator.reconcile.diff import compact
from cg_operator.reconcile.exposure import GATEWAY_API
from cg_operator.reconcile.kept import kept

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
    # Served only where the Gateway API CRDs are installed: until then its store stays empty
    # (see LATE_KINDS).
    ChildKind("gateway.networking.k8s.io", "v1", "httproutes", GATEWAY_API, "HTTPRoute"),
    ChildKind(GROUP, VERSION, INSTALLATION.plural, INSTALLATION.group_version, INSTALLATION.kind),
)
BY_KIND = {(k.api_version, k.kind): k for k in CHILD_KINDS}

# Child kinds whose CRD may be installed while the operator runs. Their watch asks again for a
# kind the API server does not serve every few seconds (handlers/informers); until it watches,
# an object of these kinds that the store lacks is read from the API server: without that, an
# HTTPRoute applied in between would look missing, be applied again, and keep its installation
# from Ready.
LATE_KINDS = frozenset({(GATEWAY_API, "HTTPRoute")})
_told_unwatched: set[tuple[str, str]] = set()


# The kinds the operator's own watches keep (handlers/informers): every child kind but its own.
INFORMED_KINDS: tuple[ChildKind, ...] = tuple(k for k in CHILD_KINDS if k.group != GROUP)


class ChildStore(Mapping[str, list[dict[str, Any]]]):
    """The kept copies (reconcile/kept) of one kind's children, by namespace ("" for a
    cluster-scoped kind), read as a kopf index is: `store[namespace]` is a list of objects. The
    watch writes on kopf's event loop while reconcile threads read: every access takes a lock
    and a read returns a copy of the list.

    A packed store holds each copy pickled and unpickles it for every read, so each reader gets
    its own copy. Decoded, a Deployment's kept copy is a tree of dozens of dicts and lists (a
    Job's, two hundred), 16 KB; pickled, 3 KB, and nothing for the garbage collector to walk.
    The stores were half of the operator's steady memory at N=342 (README.md, "Where the
    memory is"); an unpickle of a Deployment takes about 30 us. A store read by scanning every
    object (Namespaces, for each pass's tenant scope) is not packed."""

    def __init__(self, *, packed: bool = True) -> None:
        self._lock = threading.Lock()
        self._packed = packed
        # namespace -> name -> (resourceVersion, the copy, pickled when packed)
        self._by_namespace: dict[str, dict[str, tuple[str, Any]]] = {}

    @property
    def packed(self) -> bool:
        """Whether copies are held pickled."""
        return self._packed

    def put(self, obj: dict[str, Any]) -> str | None:
        """Keep obj in place of the copy it replaces: that copy's resourceVersion ("" for
        none), or None when obj is new."""
        meta = obj["metadata"]
        entry = (resource_version(obj), self._pack(obj))
        with self._lock:
            names = self._by_namespace.setdefault(meta.get("namespace") or "", {})
            previous, names[meta["name"]] = names.get(meta["name"]), entry
        return None if previous is None else previous[0]

    def drop(self, namespace: str, name: str) -> dict[str, Any] | None:
        """Forget an object; the copy that was kept, or None."""
        with self._lock:
            names = self._by_namespace.get(namespace)
            if names is None:
                return None
            previous = names.pop(name, None)
            if not names:
                del self._by_namespace[namespace]
        return None if previous is None else self._unpack(previous[1])

    def keys_of_all(self) -> set[tuple[str, str]]:
        """(namespace, name) of every kept object."""
        with self._lock:
            return {(ns, name) for ns, names in self._by_namespace.items() for name in names}

    def get_object(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The kept copy of one object, or None."""
        with self._lock:
            entry = self._by_namespace.get(namespace, {}).get(name)
        return None if entry is None else self._unpack(entry[1])

    def count(self) -> int:
        """How many objects are kept."""
        with self._lock:
            return sum(len(names) for names in self._by_namespace.values())

    def __getitem__(self, namespace: str) -> list[dict[str, Any]]:
        with self._lock:
            entries = list(self._by_namespace[namespace].values())
        return [self._unpack(copy) for _, copy in entries]

    def __contains__(self, namespace: object) -> bool:
        with self._lock:
            return namespace in self._by_namespace

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            return iter(list(self._by_namespace))

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_namespace)

    def _pack(self, obj: dict[str, Any]) -> Any:
        return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL) if self._packed else obj

    def _unpack(self, copy: Any) -> dict[str, Any]:
        if not self._packed:
            return cast(dict[str, Any], copy)
        # Only what _pack made is unpickled: bytes of this process, never read from outside.
        return cast(dict[str, Any], pickle.loads(copy))  # noqa: S301


def resource_version(obj: Mapping[str, Any]) -> str:
    """An object's resourceVersion, "" when it has none: what ChildStore.put returns of the
    copy it replaces, to be compared with the next one's."""
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


# Read by scanning (Observed.namespaces_of, every pass's scope check): kept decoded.
_SCANNED_KINDS = frozenset({("v1", "Namespace")})


STORES: dict[str, ChildStore] = {
    k.index_name: ChildStore(packed=(k.api_version, k.kind) not in _SCANNED_KINDS)
    for k in INFORMED_KINDS
}


# async: kopf runs a sync handler on its thread pool, a hand-off per event.
@kopf.index(
    GROUP,
    VERSION,
    INSTALLATION.plural,
    id=BY_KIND[INSTALLATION.group_version, INSTALLATION.kind].index_name,
)
async def observed_componentinstallations(
    namespace: str | None, body: kopf.Body, **_: Any
) -> dict[str, dict[str, Any]]:
    """Every ComponentInstallation, kept everywhere: writing one takes a grant on our own kind,
    and one outside its tenant's namespace must be seen to be refused."""
    watch_event(INSTALLATION.plural)
    return {namespace or "": kept(dict(body), FIELD_MANAGER)}


T = TypeVar("T")


def _read_unindexed(ref: Ref) -> dict[str, Any] | None:
    """An object of a late kind, read from the API server (one GET; only while its store lacks
    it, so a kind that is watched costs this once, before the object is created)."""
    live = objects.get(ref)
    if live is None:
        return None
    kind = (ref.api_version, ref.kind)
    if kind not in _told_unwatched:
        _told_unwatched.add(kind)
        log.warning(
            "%s exists but is not among the watched objects: its CRD was installed after the "
            "operator started and is not watched yet; reading %s objects directly until it is",
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
        # kopf passes its index of installations; the other kinds are the watches' stores,
        # unless the caller passes its own (the unit tests' fixtures).
        self._indexes: dict[tuple[str, str], Mapping[str, Any]] = {
            (k.api_version, k.kind): kwargs[k.index_name]
            if k.index_name in kwargs
            else STORES[k.index_name]
            for k in CHILD_KINDS
        }

    def in_namespace(self, api_version: str, kind: str, namespace: str) -> Iterator[dict[str, Any]]:
        """Every live object of a kind in a namespace ("" for cluster-scoped kinds)."""
        index = self._indexes[(api_version, kind)]
        if namespace in index:
            yield from snapshot(lambda: list(index[namespace]))

    def get(self, ref: Ref) -> dict[str, Any] | None:
        """The live object, or None."""
        index = self._indexes[(ref.api_version, ref.kind)]
        if isinstance(index, ChildStore):
            found = index.get_object(ref.namespace, ref.name)
            if found is not None:
                return found
        else:
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
