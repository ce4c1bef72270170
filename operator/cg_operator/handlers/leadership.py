"""One leader among the operator's replicas: stand by until this process holds the operator's
Lease (k8s/lease.py), then lead until it stops or loses the lease.

kopf has no leader election (its peering pauses lower-priority operators, needs a CRD of its own
and decides nothing between equals), so the election wraps kopf.run instead of living in a kopf
handler: a standby answers its liveness endpoint itself (kopf serves it only after start-up), so
the kubelet keeps it and a rolling update counts it as Ready, and serves /metrics, so that
Prometheus sees it standing by."""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from cg_operator import metrics
from cg_operator.handlers import monitoring
from cg_operator.k8s.election import DEFAULT_LEASE_NAME, ElectionTiming
from cg_operator.k8s.lease import Lease

log = logging.getLogger(__name__)
# The exit status when the lease is lost: the pod restarts and stands by again.
LOST_EXIT_CODE = 1


@dataclass(frozen=True)
class ElectionSettings:
    """Where the lease lives and how long it lasts (the chart's leaderElection values)."""

    namespace: str
    name: str = DEFAULT_LEASE_NAME
    timing: ElectionTiming = field(default_factory=ElectionTiming)


def identity() -> str:
    """This candidate's name in the lease: the pod's name (the hostname in a pod) and a
    random suffix, as client-go does, so that a restarted container is a new candidate."""
    return f"{os.environ.get('POD_NAME') or socket.gethostname()}_{uuid.uuid4().hex[:8]}"


class _StandbyProbe(BaseHTTPRequestHandler):
    """200 on the liveness path while standing by: alive, and ready to take over."""

    path_served = "/healthz"

    def do_GET(self) -> None:
        found = urlsplit(self.path).path == self.path_served
        body = b'{"standby": true}' if found else b"not found"
        self.send_response(200 if found else 404)
        self.send_header("Content-Type", "application/json" if found else "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Probes every few seconds are no news."""


def _standby_server(liveness_endpoint: str | None) -> ThreadingHTTPServer | None:
    if not liveness_endpoint:
        return None
    url = urlsplit(liveness_endpoint)
    handler = type("StandbyProbe", (_StandbyProbe,), {"path_served": url.path or "/"})
    server = ThreadingHTTPServer((url.hostname or "0.0.0.0", url.port or 80), handler)  # noqa: S104
    threading.Thread(target=server.serve_forever, name="standby probe", daemon=True).start()
    return server


def _lost() -> None:
    """Exit at once: after the renew deadline another replica may take the lease any moment,
    and a second writer must never overlap (controller-runtime exits the same way)."""
    metrics.LEADER.set(0)
    logging.shutdown()
    os._exit(LOST_EXIT_CODE)


def lead(settings: ElectionSettings, liveness_endpoint: str | None) -> Lease | None:
    """Stand by until this process holds the lease and return it (renewed until released), or
    return None when SIGTERM came first."""
    lease = Lease(settings.namespace, settings.name, identity(), settings.timing)
    metrics.LEADER.set(0)
    monitoring.serve_metrics()
    server = _standby_server(liveness_endpoint)
    stop = threading.Event()
    try:
        # kopf answers SIGTERM once it runs; a standby stops waiting instead.
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            if not lease.acquire(stop):
                log.info("stopped while standing by")
                return None
        finally:
            signal.signal(signal.SIGTERM, previous)
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
    lease.keep(on_lost=_lost)
    metrics.LEADER.set(1)
    return lease
