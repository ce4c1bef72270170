"""The operator's own list+watch of its children: one stream per built-in child kind, filling
that kind's store (handlers/observed.STORES) with kept copies and waking each changed child's
owner (handlers/triggers.child_changed).

Why not kopf's watching: kopf runs a worker task per watched object and, at start-up, holds
every one of them at its index gate until all kinds are listed. A child has no handler of its
own here, only an index entry and an event that names its owner, and for that kopf's per-object
machinery cost a restart most of its CPU and a memory peak of twice the steady memory at N=342
(bench/README.md). kopf keeps the operator's own kinds, whose handlers it runs, and
ComponentInstallation, a tenant's child with handlers of its own.

The transport is kopf's list+watch (`kopf._cogs.clients.watching.continuous_watch`, which its
own watchers run in a loop): the listing in pages, the watch continued from the listing's
resourceVersion until "410 Gone" ends it, the label selectors of the settings
(handlers/settings: managed-by, and this shard's label) and kopf's credentials. What it leaves
to its caller is done here:
- each object is reduced to its kept copy (reconcile/kept) as it arrives, before it is held;
- the loop: each round lists anew, and a listing after the first drops what vanished while the
  watch was away, and wakes the owners of what changed or vanished;
- a kind the API server does not serve (HTTPRoute before the Gateway API is installed) is asked
  for again every LATE_KIND_RETRY_SECONDS (handlers/observed.LATE_KINDS).

The first listing wakes no one: after a (re)start each owner reconciles once, from its own kopf
event, when every store is filled (`synced`, which the work queue's start-up hold asks).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import kopf
from kopf._cogs.clients import errors, watching
from kopf._cogs.structs import references

from cg_operator.api.constants import FIELD_MANAGER
from cg_operator.handlers.monitoring import watch_event
from cg_operator.handlers.observed import (
    INFORMED_KINDS,
    STORES,
    ChildKind,
    ChildStore,
    resource_version,
)
from cg_operator.handlers.queue import QUEUE
from cg_operator.handlers.scope import (
    TENANT_NAMESPACES,
    is_tenant_namespace,
    labels_tenant,
    load_tenant_namespaces,
)
from cg_operator.handlers.settings import apply_settings
from cg_operator.handlers.triggers import child_changed
from cg_operator.reconcile.kept import kept

log = logging.getLogger(__name__)

# How often a kind the API server does not serve is asked for again (the Gateway API installed
# while the operator runs is watched within this).
LATE_KIND_RETRY_SECONDS = 15.0
# After any other failure of a stream (RBAC, the API server away): the wait before the next try.
FAILURE_BACKOFF_SECONDS = 5.0

# What this module passes kopf's list+watch (checked at start-up: `check_kopf`).
_WATCH_PARAMETERS = ("settings", "resource", "namespace", "operator_pause_waiter")

Change = tuple[str, dict[str, Any]]  # (ADDED | MODIFIED | DELETED, the object)
OnChange = Callable[[str, dict[str, Any], str], None]  # (type, object, plural)


def check_kopf() -> None:
    """Raise when kopf's list+watch no longer has the shape this module was written for, so an
    upgrade of kopf stops the operator at start-up instead of leaving its stores empty."""
    parameters = inspect.signature(watching.continuous_watch).parameters
    missing = [name for name in _WATCH_PARAMETERS if name not in parameters]
    bookmark = getattr(getattr(watching, "Bookmark", None), "LISTED", None)
    if missing or bookmark is None:
        raise RuntimeError(
            "kopf's continuous_watch changed shape (missing "
            f"{', '.join(missing) or 'Bookmark.LISTED'}): review handlers/informers.py"
        )


def keeps(kind: ChildKind, obj: Mapping[str, Any]) -> bool:
    """Whether the store keeps this object: Namespaces always (only cluster-level rights label
    one), other kinds only in a tenant namespace (handlers/scope)."""
    if kind.kind == "Namespace":
        return True
    return is_tenant_namespace((obj.get("metadata") or {}).get("namespace"))


class Informer:
    """One stream's share of a kind's store (the whole kind, or one namespace of it), kept up
    to date from the stream's events (`receive`, which the stream's task calls and the tests
    call directly)."""

    def __init__(self, kind: ChildKind, store: ChildStore, namespace: str | None = None) -> None:
        self.kind = kind
        self.store = store
        self.namespace = namespace
        self.synced = False  # the first listing is complete (or the kind is not served)
        self._listing: set[tuple[str, str]] | None = None  # what a listing in progress holds

    def receive(self, event: Any) -> list[Change]:
        """Apply one item of kopf's stream to the store: the changes that concern an owner."""
        if event is watching.Bookmark.LISTED:
            return self._listed()
        if not isinstance(event, dict) or event.get("type") in ("BOOKMARK", "ERROR"):
            return []
        raw = event.get("object")
        if not isinstance(raw, dict) or not isinstance(raw.get("metadata"), dict):
            return []
        watch_event(self.kind.plural)
        obj = kept(raw, FIELD_MANAGER, share=not self.store.packed)
        meta = obj["metadata"]
        key = (meta.get("namespace") or "", meta["name"])
        kind = event.get("type")
        if kind == "DELETED":
            self.store.drop(*key)
            return [("DELETED", obj)]
        if self.kind.kind == "Namespace" and labels_tenant(obj):
            TENANT_NAMESPACES.admit(meta["name"])
        if kind is None:
            return self._listed_one(key, obj)
        if keeps(self.kind, obj):
            self.store.put(obj)
        else:
            self.store.drop(*key)  # no longer in scope, if it was
        return [(kind, obj)]

    def _listed_one(self, key: tuple[str, str], obj: dict[str, Any]) -> list[Change]:
        """An object of a listing: news only to a listing after the first (a new watch after
        the old one's resourceVersion expired), and only when it changed meanwhile."""
        if self._listing is None:
            self._listing = set()
        self._listing.add(key)
        if not keeps(self.kind, obj):
            self.store.drop(*key)
            return []
        previous = self.store.put(obj)
        if not self.synced:
            return []  # the first listing: every owner has its own start-up pass
        if previous is None:
            return [("ADDED", obj)]
        if previous != resource_version(obj):
            return [("MODIFIED", obj)]
        return []

    def begin(self) -> None:
        """The stream starts over: what comes next is a new listing."""
        self._listing = None

    def unserved(self) -> None:
        """The API server does not serve the kind: nothing to list, nothing kept."""
        self.synced = True

    def _listed(self) -> list[Change]:
        """A listing is complete: what it lacked vanished while the watch was away."""
        listed, self._listing = self._listing or set(), None
        held = {
            key
            for key in self.store.keys_of_all()
            if self.namespace is None or key[0] == self.namespace
        }
        gone = [self.store.drop(*key) for key in sorted(held - listed)]
        self.synced = True
        return [("DELETED", obj) for obj in gone if obj is not None]


def _resource(kind: ChildKind) -> references.Resource:
    return references.Resource(
        group=kind.group,
        version=kind.version,
        plural=kind.plural,
        kind=kind.kind,
        namespaced=kind.kind != "Namespace",
        verbs=frozenset({"list", "watch"}),
    )


class Informers:
    """Every child kind's streams: where each watches (the whole cluster, or each of the
    namespaces the operator is limited to) and the tasks that run them."""

    def __init__(self, kinds: Iterable[ChildKind], stores: Mapping[str, ChildStore]) -> None:
        self._kinds = tuple(kinds)
        self._stores = stores
        self.informers: list[Informer] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.configure(())

    def configure(self, namespaces: Iterable[str]) -> None:
        """Watch namespaced kinds only in these namespaces (none: cluster-wide)."""
        names = tuple(namespaces)
        self.informers = [
            Informer(kind, self._stores[kind.index_name], where)
            for kind in self._kinds
            for where in (names if names and _resource(kind).namespaced else (None,))
        ]

    def synced(self) -> bool:
        """Whether every stream's first listing is complete."""
        return all(informer.synced for informer in self.informers)

    def start(self, settings: kopf.OperatorSettings, on_change: OnChange) -> None:
        """One task per stream, on the running (kopf's) loop."""
        for informer in self.informers:
            stream = _Stream(informer, _resource(informer.kind), on_change, settings)
            where = informer.namespace or "cluster-wide"
            self._tasks.append(
                asyncio.create_task(stream.run(), name=f"watch {informer.kind.plural} {where}")
            )

    async def stop(self) -> None:
        """Cancel every stream's task and wait for them."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()


class _Stream:
    """One list+watch, for ever, feeding one informer."""

    def __init__(
        self,
        informer: Informer,
        resource: references.Resource,
        on_change: OnChange,
        settings: kopf.OperatorSettings,
    ) -> None:
        self.informer, self.resource = informer, resource
        self._on_change, self._settings = on_change, settings

    async def run(self) -> None:
        plural = self.resource.plural
        namespace = (
            references.NamespaceName(self.informer.namespace) if self.informer.namespace else None
        )
        never: asyncio.Future[None] = asyncio.get_running_loop().create_future()  # no pausing
        while True:
            # Each round lists anew; a listing cut short by a dropped connection must not count
            # its objects as listed in the next (kopf's infinite_watch would hide the new start).
            self.informer.begin()
            try:
                async for event in watching.continuous_watch(
                    settings=self._settings,
                    resource=self.resource,
                    namespace=namespace,
                    operator_pause_waiter=never,
                ):
                    for change, obj in self.informer.receive(event):
                        self._tell(change, obj)
                await asyncio.sleep(self._settings.watching.reconnect_backoff)
            except errors.APITooManyRequestsError:
                await asyncio.sleep(self._settings.watching.reconnect_backoff)
            except errors.APINotFoundError:
                if not self.informer.synced:
                    log.info(
                        "%s are not served (yet): asking again every %.0f s",
                        plural,
                        LATE_KIND_RETRY_SECONDS,
                    )
                self.informer.unserved()
                await asyncio.sleep(LATE_KIND_RETRY_SECONDS)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("watching %s failed; trying again", plural)
                await asyncio.sleep(FAILURE_BACKOFF_SECONDS)

    def _tell(self, change: str, obj: dict[str, Any]) -> None:
        try:
            self._on_change(change, obj, self.resource.plural)
        except Exception:  # one owner's trouble must not stop the stream
            log.exception(
                "waking the owner of %s %s failed",
                self.resource.plural,
                obj["metadata"].get("name"),
            )


INFORMERS = Informers(INFORMED_KINDS, STORES)


def _wake_owner(change: str, obj: dict[str, Any], plural: str) -> None:
    """A child changed: its owner's pass (with kopf's indexes as the latest handler had them;
    none yet means no owner has had its first event, and each will)."""
    context = QUEUE.context()
    if context:
        child_changed(change, obj, plural, context)


@kopf.on.startup()
async def start_watching(settings: kopf.OperatorSettings, **_: Any) -> None:
    """kopf start-up hook: start the children's watches, once what their first listings need
    is in place. kopf runs its start-up hooks in the order they were registered, which is the
    order of imports, so this hook does not rely on the others': the streams send the label
    selectors of the settings (applying them again changes nothing), and the scope must hold
    every tenant namespace before a listing is kept."""
    apply_settings(settings)
    await asyncio.to_thread(load_tenant_namespaces)
    INFORMERS.start(settings, _wake_owner)


@kopf.on.cleanup()
async def stop_watching(**_: Any) -> None:
    """kopf clean-up hook: stop the children's watches."""
    await INFORMERS.stop()
