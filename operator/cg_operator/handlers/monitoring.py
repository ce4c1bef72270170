"""The metrics endpoint at run time: build info, the state collector fed from kopf's indexes,
and watch freshness recorded by every index function (kopf calls them for every event)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from importlib.metadata import version
from typing import Any

import kopf

from cg_operator import metrics
from cg_operator.handlers.queue import QUEUE

METRICS_ADDRESS: str | None = "0.0.0.0:8081"
# The child indexes' names (handlers/observed.ChildKind.index_name), which import this module.
CHILD_INDEX_PREFIX = "observed_"


def configure(address: str | None) -> None:
    """Where to serve /metrics (host:port), or None for nowhere (before the operator starts)."""
    global METRICS_ADDRESS  # noqa: PLW0603 - one endpoint per process
    METRICS_ADDRESS = address


def watch_event(resource: str) -> None:
    """Count a watch event of `resource` and record when it came."""
    metrics.WATCH_EVENTS.labels(resource).inc()
    metrics.WATCH_LAST_EVENT.labels(resource).set(time.time())


def _values(context: Mapping[str, Any], index: str) -> Iterator[Mapping[str, Any]]:
    found = context.get(index)
    if found is None:
        return
    for store in found.values():
        for value in store:
            yield getattr(value, "body", value)


def snapshot() -> metrics.FleetSnapshot:
    """What the operator's indexes hold now (the latest context the work queue saw): of a
    shard, its own tenants and their installations, and the rollouts only of the primary, so
    that the shards' series add up to the fleet. kopf updates the indexes on its own thread; a
    copy that raced with an update is simply taken again."""
    # At call time: handlers/shards imports the indexes, which import this module.
    from cg_operator.handlers import shards  # noqa: PLC0415

    shard = shards.current()
    context = QUEUE.context()
    for _attempt in range(5):
        try:
            tenants = list(_values(context, "tenant_index"))
            installations = list(_values(context, "observed_componentinstallations"))
            if shard.sharded:
                tenants = [t for t in tenants if shards.labelled_here(t)]
                names = {t["metadata"]["name"] for t in tenants}
                installations = [i for i in installations if i["spec"].get("tenant") in names]
            return metrics.FleetSnapshot(
                installations=installations,
                tenants=tenants,
                rollouts=list(_values(context, "rollout_index"))
                if shard.writes_cluster_status
                else [],
                queue_depth=QUEUE.depth(),
                cached_objects={
                    name.removeprefix(CHILD_INDEX_PREFIX): sum(len(s) for s in index.values())
                    for name, index in context.items()
                    if name.startswith(CHILD_INDEX_PREFIX)
                }
                | _stored(),
            )
        except RuntimeError:  # "changed size during iteration"
            continue
    return metrics.FleetSnapshot(queue_depth=QUEUE.depth())


def _stored() -> dict[str, int]:
    """Objects in the stores of the children's own watches (handlers/informers), by plural."""
    # At call time: handlers/observed imports this module.
    from cg_operator.handlers.observed import STORES  # noqa: PLC0415

    return {name.removeprefix(CHILD_INDEX_PREFIX): store.count() for name, store in STORES.items()}


_serving = False


def serve_metrics() -> None:
    """Serve /metrics with the build info, once per process: a standby (handlers/leadership)
    serves it before kopf starts, so that Prometheus sees it up."""
    global _serving  # noqa: PLW0603 - one endpoint per process
    metrics.set_build_info(version("kopf"))
    if METRICS_ADDRESS and not _serving:
        metrics.serve(METRICS_ADDRESS)
        _serving = True


@kopf.on.startup()
def start_metrics(**_: Any) -> None:
    """kopf start-up hook: the state collector, and the /metrics server unless it runs."""
    metrics.register_state(snapshot)
    serve_metrics()
