"""Start kopf with every cg-operator handler registered."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping
from typing import Any

import kopf

from cg_operator.api.kinds import ALL_KINDS
from cg_operator.handlers import exposure as platform_exposure
from cg_operator.handlers import (
    failures,
    garbage_collection,
    heap_release,
    informers,
    installation,
    leadership,
    monitoring,
    probing,
    shards,
    startup_gate,
)
from cg_operator.handlers.leadership import ElectionSettings
from cg_operator.handlers.probing import HealthConfig
from cg_operator.handlers.queue import QUEUE
from cg_operator.reconcile.backing import BackingImages
from cg_operator.reconcile.exposure import ExposureSettings
from cg_operator.reconcile.shards import Shard

# Every module that registers handlers; importing one registers its handlers with kopf.
# Each kind's own module comes from api/kinds.py; the rest serve every kind.
HANDLER_MODULES: tuple[str, ...] = tuple(
    dict.fromkeys(
        (
            "cg_operator.handlers.settings",
            "cg_operator.handlers.catalogue",
            "cg_operator.handlers.observed",
            *(k.handler_module for k in ALL_KINDS),
            "cg_operator.handlers.triggers",
            "cg_operator.handlers.monitoring",
            "cg_operator.handlers.probing",
            # The children's watches; their start-up hook applies what it needs itself, so the
            # order kopf runs start-up hooks in does not matter to it.
            "cg_operator.handlers.informers",
        )
    )
)

log = logging.getLogger(__name__)
# The longest the work queue waits for the start-up events (a deleted object never has one).
STARTUP_HOLD_MAX_SECONDS = 120.0


def _idle_upkeep() -> None:
    """When the work queue runs dry: renew the collector's freeze (its full collection frees
    what it can), then give the freed memory back to the system (the two modules say why)."""
    garbage_collection.REFREEZE()
    heap_release.RELEASE()


def load_handlers() -> None:
    """Import every handler module so that kopf's default registry knows its handlers."""
    for name in HANDLER_MODULES:
        importlib.import_module(name)


def _started(context: Mapping[str, Any]) -> bool:
    """The work queue's start-up check: the children listed, the operator's objects' first
    events delivered."""
    return informers.INFORMERS.synced() and startup_gate.FIRST_EVENTS.complete(context)


def run_operator(
    *,
    namespaces: tuple[str, ...],
    liveness_endpoint: str | None,
    verbose: bool,
    metrics_address: str | None = None,
    health: HealthConfig | None = None,
    exposure: ExposureSettings | None = None,
    backing_images: BackingImages | None = None,
    election: ElectionSettings | None = None,
    shard: Shard | None = None,
) -> None:
    """Run the operator in the foreground until SIGINT/SIGTERM; with `election`, only while
    this process holds the leader Lease (a standby before that)."""
    shards.configure(shard or Shard())  # before the first request: its User-Agent names it
    monitoring.configure(metrics_address)
    probing.configure(health or HealthConfig())
    platform_exposure.configure(exposure or ExposureSettings())
    installation.configure(backing_images or BackingImages())
    kopf.configure(verbose=verbose)
    if not verbose:
        # kopf reports every handler call at INFO; our own log says what changed.
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    load_handlers()
    startup_gate.install()  # kopf's index gate, linear in objects (see the module)
    informers.check_kopf()  # the children's watches run kopf's list+watch (see the module)
    informers.INFORMERS.configure(namespaces)
    # Reconcile each object once after a (re)start: hold until every stored object's event is
    # in and every child is listed.
    QUEUE.hold_at_startup(_started, STARTUP_HOLD_MAX_SECONDS)
    QUEUE.set_failure_reporter(failures.report_failure)
    garbage_collection.install()  # time every collection; freeze each full one's survivors
    QUEUE.set_idle_hook(_idle_upkeep)
    lease = None
    if election is not None:
        lease = leadership.lead(election, liveness_endpoint)
        if lease is None:
            return
    scope = ", ".join(namespaces) if namespaces else "the whole cluster"
    log.info("cg-operator starting; watching %s", scope)
    try:
        # standalone: kopf's own peering stays off; leader election (above) decides who runs.
        kopf.run(
            standalone=True,
            clusterwide=not namespaces,
            namespaces=namespaces,
            liveness_endpoint=liveness_endpoint,
        )
    finally:
        if lease is not None:
            lease.release()
