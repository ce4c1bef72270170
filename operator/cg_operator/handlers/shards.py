"""This process's shard at run time (decisions: reconcile/shards.py): the work queue's gate,
which runs only the passes this shard owns, and the handover of a tenant that moves between
shards.

One gate, at the queue, because every write the operator makes is made by a queued pass: a
tenant's, an installation's, a catalogue entry's or a rollout's. Events, indexes and probes stay
as they are; whatever they ask for that is another shard's is dropped when its turn comes.

A handover, as the old shard sees it: the tenant's label names another shard while its status
still names this one, so its passes are refused from then on; a handover pass waits until none
of the tenant's passes is running, labels the tenant's namespace and everything in it for the
new shard (one write each, the only cost of a move: they leave this shard's watches and enter
the new one's), and then names the new shard in the tenant's status. The new shard, which has
waited for exactly that, takes the tenant: it reconciles the tenant and each of its
installations, each once its watches hold everything the installation's inventory lists, so
that no pass of the new shard mistakes an object its watch has not delivered yet for a missing
one (and reports the installation not Ready for a moment)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Hashable, Iterable, Mapping
from typing import Any

from cg_operator.api.constants import LABEL_SHARD
from cg_operator.api.kinds import COMPONENT, INSTALLATION, ROLLOUT, TENANT
from cg_operator.api.refs import Ref
from cg_operator.handlers import probing
from cg_operator.handlers.installation import enqueue_installation, inventory
from cg_operator.handlers.observed import Observed, snapshot
from cg_operator.handlers.queue import QUEUE
from cg_operator.handlers.scope import TENANT_NAMESPACES
from cg_operator.k8s import objects, writer
from cg_operator.k8s.client import patch_status
from cg_operator.reconcile.shards import (
    HANDOVER_DEADLINE_SECONDS,
    PRIMARY_SHARD,
    Ownership,
    Shard,
    ownership,
    shard_of,
)

log = logging.getLogger(__name__)
HANDOVER = "shard-handover"
# How long a handover waits for a running pass of the tenant to end (a pass takes seconds).
HANDOVER_WAIT_SECONDS = 60.0

_shard = Shard()
_lock = threading.Lock()
# Tenant -> when this process first saw it labelled for this shard but not handed over yet.
_awaiting_since: dict[str, float] = {}
# Tenant -> the ownership last decided (a change to OWNED brings its installations a pass).
_last: dict[str, Ownership] = {}
# Tenant -> when this process took it over: its installations' passes wait for the watches.
_gained_at: dict[str, float] = {}
# How long a taken-over installation's pass waits for the watches to deliver its objects, and
# how often it looks.
CATCH_UP_SECONDS = 10.0
CATCH_UP_POLL_SECONDS = 0.5


def configure(shard: Shard) -> None:
    """This process's shard, before kopf starts: the queue's gate, and the label and
    User-Agent of every write."""
    global _shard  # noqa: PLW0603 - one setting of the process
    _shard = shard
    writer.configure(shard.child_labels(), shard.name)
    if shard.sharded:
        QUEUE.set_gate(owns)
        log.info(
            "shard %s: tenants labelled %s=%s%s",
            shard.name,
            LABEL_SHARD,
            shard.name,
            " or unlabelled, and the catalogue's and rollouts' status"
            if shard.writes_cluster_status
            else "",
        )


def current() -> Shard:
    """This process's shard."""
    return _shard


def status_fields() -> dict[str, Any]:
    """What a tenant's status written by this process records of it."""
    return _shard.status_fields()


def _tenant(name: str, context: Mapping[str, Any]) -> dict[str, Any] | None:
    index = context.get("tenant_index") or {}
    if name not in index:
        return None
    found = snapshot(lambda: list(index[name]))
    return found[0].body if found else None


def tenant_ownership(name: str, body: Mapping[str, Any], context: Mapping[str, Any]) -> Ownership:
    """Whether this process writes the tenant now; a change is acted on here: a tenant gained
    gets its installations reconciled, one lost is handed over, one awaited is looked at again
    at the deadline."""
    now = time.monotonic()
    with _lock:
        labelled_here = shard_of(body) == _shard.name
        since = _awaiting_since.setdefault(name, now) if labelled_here else None
        decided = ownership(_shard, body, None if since is None else now - since)
        if decided is not Ownership.AWAITING_HANDOVER:
            _awaiting_since.pop(name, None)
        before = _last.get(name)
        _last[name] = decided
    if decided is Ownership.AWAITING_HANDOVER and before is not Ownership.AWAITING_HANDOVER:
        log.info("tenant %s: waiting for shard %s to hand it over", name, _last_writer(body))
        from cg_operator.handlers.tenant import enqueue_tenant  # noqa: PLC0415 - imports this

        enqueue_tenant(name, context, delay=HANDOVER_DEADLINE_SECONDS)
    elif decided is Ownership.RELEASING:
        QUEUE.add((HANDOVER, name), _hand_over, context)
    elif decided is Ownership.OWNED and before not in (None, Ownership.OWNED):
        if before is Ownership.AWAITING_HANDOVER and _last_writer(body) != _shard.name:
            log.warning("tenant %s: shard %s did not hand it over; taken", name, _last_writer(body))
        log.info("tenant %s: now reconciled by shard %s", name, _shard.name)
        with _lock:
            _gained_at[name] = now
        _reconcile_installations(name, body, context)
    return decided


def tenant_seen(body: Mapping[str, Any]) -> None:
    """A tenant event: a tenant labelled for this shard has its namespace in scope at once,
    before the previous shard relabels anything in it for this one (handlers/scope keeps a
    child only in a namespace in scope, and decides when the child's event arrives)."""
    if _shard.sharded and shard_of(body) == _shard.name:
        namespace = _namespace_of(body)
        if namespace:
            TENANT_NAMESPACES.admit(namespace)


def _last_writer(body: Mapping[str, Any]) -> str:
    return str((body.get("status") or {}).get("shard") or "")


def _namespace_of(body: Mapping[str, Any]) -> str:
    recorded = (body.get("status") or {}).get("namespace")
    return str(recorded or (body.get("spec") or {}).get("namespace") or "")


def _reconcile_installations(
    tenant: str, body: Mapping[str, Any], context: Mapping[str, Any]
) -> None:
    namespace = _namespace_of(body)
    if not namespace:
        return
    for live in Observed(context).installations(namespace).values():
        if (live.get("spec") or {}).get("tenant") == tenant:
            enqueue_installation(namespace, live["metadata"]["name"], context)


def owns(key: Hashable, context: Mapping[str, Any]) -> bool:
    """The queue's gate: whether this shard runs the pass for `key`."""
    if not isinstance(key, tuple) or not key:
        return True
    plural = key[0]
    if plural in (COMPONENT.plural, ROLLOUT.plural):
        return _shard.writes_cluster_status
    if plural == TENANT.plural:
        body = _tenant(str(key[1]), context)
        return body is None or tenant_ownership(str(key[1]), body, context) is Ownership.OWNED
    if plural == INSTALLATION.plural:
        return _owns_installation(str(key[1]), str(key[2]), context)
    return True


def _owns_installation(namespace: str, name: str, context: Mapping[str, Any]) -> bool:
    live = Observed(context).get(
        Ref(INSTALLATION.group_version, INSTALLATION.kind, namespace, name)
    )
    if live is None:
        return True  # the pass only forgets it
    tenant = _tenant(str((live.get("spec") or {}).get("tenant") or ""), context)
    if tenant is not None:
        name_of_tenant = tenant["metadata"]["name"]
        if tenant_ownership(name_of_tenant, tenant, context) is not Ownership.OWNED:
            return False
        return _caught_up(name_of_tenant, live, context)
    # Its tenant is gone (being finalized after it): whoever wrote it last finishes it.
    labels = live["metadata"].get("labels") or {}
    return (labels.get(LABEL_SHARD) or PRIMARY_SHARD) == _shard.name


def _caught_up(tenant: str, live: Mapping[str, Any], context: Mapping[str, Any]) -> bool:
    """Whether the watches hold everything a taken-over installation's inventory lists; if
    not (and not for long), its pass is asked for again shortly."""
    with _lock:
        gained = _gained_at.get(tenant)
    if gained is None:
        return True
    if time.monotonic() - gained > CATCH_UP_SECONDS:
        with _lock:
            _gained_at.pop(tenant, None)
        return True
    observed = Observed(context)
    if all(observed.get(ref) is not None for ref in inventory(live)):
        return True
    meta = live["metadata"]
    enqueue_installation(meta["namespace"], meta["name"], context, delay=CATCH_UP_POLL_SECONDS)
    return False


def _hand_over(key: Hashable, context: Mapping[str, Any]) -> None:
    """Name the tenant's new shard in its status once none of its passes runs here."""
    assert isinstance(key, tuple)
    name = str(key[1])
    ref = Ref(TENANT.group_version, TENANT.kind, "", name)
    live = objects.get(ref)
    if live is None or ownership(_shard, live) is not Ownership.RELEASING:
        return  # gone, handed over already, or moved back
    namespace = _namespace_of(live)

    def running(other: Hashable) -> bool:
        return isinstance(other, tuple) and (
            other == (TENANT.plural, name)
            or (other[0] == INSTALLATION.plural and bool(namespace) and other[1] == namespace)
        )

    if not QUEUE.wait_until_none_running(running, HANDOVER_WAIT_SECONDS):
        raise RuntimeError(f"tenant {name}: a pass still runs; the handover is tried again")
    observed = Observed(context)
    _forget_probes(namespace, observed.installations(namespace).values())
    new = shard_of(live)
    objects.post_event(
        live,
        reason="ShardHandover",
        message=f"handed over from shard {_shard.name} to shard {new}",
    )
    moved = {LABEL_SHARD: new}
    objects_there = observed.everything_in(namespace) if namespace else []
    refs = [Ref("v1", "Namespace", "", namespace)] if namespace else []
    refs += [Ref.of(o) for o in objects_there]
    for ref in refs:
        objects.merge_patch(ref, {"metadata": {"labels": moved}})
    patch_status(TENANT.plural, name, {"shard": new})
    log.info("tenant %s: handed over to shard %s", name, new)


def _forget_probes(namespace: str, installations: Iterable[Mapping[str, Any]]) -> None:
    for live in installations:
        probing.forget_installation((INSTALLATION.plural, namespace, live["metadata"]["name"]))


def labelled_here(tenant: Mapping[str, Any]) -> bool:
    """Whether a tenant is labelled for this shard (its metrics count only those, so that the
    shards' series add up to the fleet)."""
    return not _shard.sharded or shard_of(tenant) == _shard.name


def reset() -> None:
    """Forget every tenant and unshard (tests)."""
    configure(Shard())
    QUEUE.set_gate(None)
    with _lock:
        _awaiting_since.clear()
        _last.clear()
        _gained_at.clear()
