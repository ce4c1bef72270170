"""kopf's watch stream made to carry the kept copy of each child (reconcile/kept), the way
controller-runtime's cache transforms do, before kopf queues the event.

kopf passes each watch event's object, as decoded, to a task per object; at start-up every
stored object's task waits at kopf's index gate (handlers/startup_gate) until all of them are
indexed, so a restart holds every child's full body at once beside its index copy: at N=342
the benchmark measured a restart peak of twice the steady memory. kopf has no hook for this
(an object transform per resource kind is not among its settings), so this module wraps the
one function its per-kind watcher reads events from, `kopf._cogs.clients.watching.infinite_watch`,
and replaces each child's object with its kept copy. The task then holds the kept copy and the
index shares it (handlers/observed) instead of holding a second one.

Only the children's kinds are changed (handlers/observed.CHILD_KINDS), not the operator's own
kinds, whose handlers kopf patches and reads in full; ComponentInstallation, a child of a tenant
and a kind with handlers, is left whole.

`install()` refuses (raises) when kopf no longer has the shape this was written for, so an
upgrade of kopf cannot silently drop it.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import AsyncIterator
from typing import Any

from kopf._cogs.clients import watching
from kopf._core.reactor import queueing

from cg_operator.api.constants import FIELD_MANAGER, GROUP
from cg_operator.handlers.observed import CHILD_KINDS
from cg_operator.reconcile.kept import kept

KEPT_KINDS = frozenset((k.group, k.plural) for k in CHILD_KINDS if k.group != GROUP)
_WATCH_PARAMETERS = ("settings", "resource", "namespace")


def keeps(resource: Any) -> bool:
    """Whether events of this kopf resource carry kept copies."""
    return (getattr(resource, "group", None), getattr(resource, "plural", None)) in KEPT_KINDS


def kept_event(event: Any) -> Any:
    """A watch event with its object replaced by the kept copy; anything else as it is (kopf's
    own bookmarks, the API server's BOOKMARK and ERROR events)."""
    if not isinstance(event, dict) or event.get("type") in ("BOOKMARK", "ERROR"):
        return event
    obj = event.get("object")
    if not isinstance(obj, dict):
        return event
    return {**event, "object": kept(obj, FIELD_MANAGER)}


def install() -> None:
    """Make kopf's watch stream carry kept copies of the children (idempotent)."""
    original = watching.infinite_watch
    if getattr(original, "_cg_kept", False):
        return
    parameters = inspect.signature(original).parameters
    if (
        not all(name in parameters for name in _WATCH_PARAMETERS)
        or getattr(queueing, "watching", None) is not watching
    ):
        raise RuntimeError(
            "kopf's watch stream changed shape (infinite_watch's parameters or the watcher's "
            "use of it): review handlers/kept_watch.py"
        )

    async def infinite_watch(*, resource: Any, **kwargs: Any) -> AsyncIterator[Any]:
        # Closed with this wrapper, so that the stream's own clean-up runs when kopf stops it.
        stream: Any = original(resource=resource, **kwargs)  # an async generator
        async with contextlib.aclosing(stream):
            if not keeps(resource):
                async for event in stream:
                    yield event
                return
            async for event in stream:
                yield kept_event(event)

    infinite_watch._cg_kept = True  # type: ignore[attr-defined]
    watching.infinite_watch = infinite_watch


def installed() -> bool:
    """Whether the watch stream carries kept copies."""
    return bool(getattr(watching.infinite_watch, "_cg_kept", False))
