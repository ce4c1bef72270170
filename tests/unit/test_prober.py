"""The prober: probes on its own thread, bounded concurrency, and a reconcile request only
when the outcome changes."""

from __future__ import annotations

import threading
from collections.abc import Hashable, Iterator

import pytest

from cg_operator.api.installation import ProbeReason
from cg_operator.health.guard import ProbePolicy
from cg_operator.health.prober import Prober, ProberSettings, Target
from tests.support.cluster import wait_for
from tests.support.http_server import Behaviour, LocalServer

LOCAL = ProbePolicy.parse(["127.0.0.0/8"])


class Changes:
    """Records the prober's reconcile requests."""

    def __init__(self) -> None:
        self.keys: list[Hashable] = []
        self._lock = threading.Lock()

    def __call__(self, key: Hashable) -> None:
        with self._lock:
            self.keys.append(key)

    def count(self, key: Hashable) -> int:
        with self._lock:
            return self.keys.count(key)


@pytest.fixture
def server() -> Iterator[LocalServer]:
    running = LocalServer().start()
    yield running
    running.stop()


def make(changes: Changes, **settings: float) -> Prober:
    prober = Prober(ProberSettings(policy=LOCAL, **settings), on_change=changes)  # type: ignore[arg-type]
    prober.start()
    return prober


def target(server: LocalServer, path: str) -> Target:
    return Target(
        url=f"{server.base}{path}",
        component="open-zaak",
        delivery="SaaS",
        allowed_hosts=("127.0.0.1",),
    )


def test_an_outcome_change_asks_for_a_pass_and_a_steady_one_does_not(server: LocalServer) -> None:
    server.set("/up", Behaviour(200))
    changes = Changes()
    prober = make(changes, interval=0.05, refresh=3600)
    try:
        prober.set_target("a", target(server, "/up"))
        wait_for("first result", lambda: changes.count("a") == 1, timeout=10, interval=0.02)
        first = prober.result("a")
        assert first is not None
        assert first.healthy
        wait_for(
            "ten more probes", lambda: server.hits.get("/up", 0) >= 10, timeout=10, interval=0.02
        )
        assert changes.count("a") == 1  # ten healthy probes, one request
        server.set("/up", Behaviour(503))
        wait_for("the change to 503", lambda: changes.count("a") == 2, timeout=10, interval=0.02)
        failed = prober.result("a")
        assert failed is not None
        assert failed.reason is ProbeReason.HTTP_ERROR
    finally:
        prober.stop()


def test_concurrency_never_exceeds_the_bound(server: LocalServer) -> None:
    server.set("/slow", Behaviour(200, delay=0.2))
    changes = Changes()
    prober = make(changes, interval=0.05, concurrency=3, refresh=3600)
    try:
        for n in range(12):
            prober.set_target(n, target(server, "/slow"))
        wait_for("all 12 probed", lambda: len(set(changes.keys)) == 12, timeout=20, interval=0.02)
    finally:
        prober.stop()
    assert server.peak_in_flight == 3


def test_a_removed_target_is_no_longer_probed_and_forgets_its_result(server: LocalServer) -> None:
    server.set("/up", Behaviour(200))
    changes = Changes()
    prober = make(changes, interval=0.05, refresh=3600)
    try:
        prober.set_target("a", target(server, "/up"))
        wait_for("first result", lambda: prober.result("a") is not None, timeout=10, interval=0.02)
        prober.set_target("a", None)
        assert prober.result("a") is None
        seen = server.hits.get("/up", 0)
        server.set("/marker", Behaviour(200))
        prober.set_target("b", target(server, "/marker"))
        wait_for(
            "b probed 5x", lambda: server.hits.get("/marker", 0) >= 5, timeout=10, interval=0.02
        )
        assert server.hits.get("/up", 0) <= seen + 1  # at most one probe was in flight
    finally:
        prober.stop()


def test_the_refresh_period_asks_for_a_pass_even_without_change(server: LocalServer) -> None:
    server.set("/up", Behaviour(200))
    changes = Changes()
    prober = make(changes, interval=0.05, refresh=0.2)
    try:
        prober.set_target("a", target(server, "/up"))
        wait_for("refreshes", lambda: changes.count("a") >= 3, timeout=10, interval=0.02)
    finally:
        prober.stop()


def test_a_proxy_fetch_is_classified_like_a_direct_answer() -> None:
    changes = Changes()
    prober = make(changes, interval=60, refresh=3600)

    def no_endpoints(timeout: float) -> tuple[int, str | None]:
        return 503, None

    try:
        prober.set_target(
            "p",
            Target(
                url="/api/v1/namespaces/ns/services/open-zaak:80/proxy/healthz",
                component="open-zaak",
                delivery="Container",
                fetch=no_endpoints,
            ),
        )
        wait_for("proxy result", lambda: prober.result("p") is not None, timeout=10, interval=0.02)
    finally:
        prober.stop()
    result = prober.result("p")
    assert result is not None
    assert result.reason is ProbeReason.HTTP_ERROR
    assert result.status_code == 503
