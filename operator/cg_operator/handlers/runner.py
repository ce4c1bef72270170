"""Start kopf with every cg-operator handler registered."""

from __future__ import annotations

import importlib
import logging

import kopf

from cg_operator.handlers import monitoring, probing
from cg_operator.handlers.probing import HealthConfig

# Every module that registers handlers; importing one registers its handlers with kopf.
HANDLER_MODULES: tuple[str, ...] = (
    "cg_operator.handlers.settings",
    "cg_operator.handlers.catalogue",
    "cg_operator.handlers.observed",
    "cg_operator.handlers.component",
    "cg_operator.handlers.tenant",
    "cg_operator.handlers.triggers",
    "cg_operator.handlers.rollout",
    "cg_operator.handlers.monitoring",
    "cg_operator.handlers.probing",
)

log = logging.getLogger(__name__)


def load_handlers() -> None:
    """Import every handler module so that kopf's default registry knows its handlers."""
    for name in HANDLER_MODULES:
        importlib.import_module(name)


def run_operator(
    *,
    namespaces: tuple[str, ...],
    liveness_endpoint: str | None,
    verbose: bool,
    metrics_address: str | None = None,
    health: HealthConfig | None = None,
) -> None:
    """Run the operator in the foreground until SIGINT/SIGTERM."""
    monitoring.configure(metrics_address)
    probing.configure(health or HealthConfig())
    kopf.configure(verbose=verbose)
    if not verbose:
        # kopf reports every handler call at INFO; our own log says what changed.
        logging.getLogger("kopf.objects").setLevel(logging.WARNING)
    load_handlers()
    scope = ", ".join(namespaces) if namespaces else "the whole cluster"
    log.info("cg-operator starting; watching %s", scope)
    kopf.run(
        standalone=True,
        clusterwide=not namespaces,
        namespaces=namespaces,
        liveness_endpoint=liveness_endpoint,
    )
