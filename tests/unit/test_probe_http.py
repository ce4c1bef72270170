"""One HTTP(S) probe against real servers on 127.0.0.1: every outcome has its own reason."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trustme

from cg_operator.api.installation import ProbeReason, ProbeResult
from cg_operator.health.guard import ProbePolicy
from cg_operator.health.http import probe_http, session_for
from tests.support.http_server import Behaviour, LocalServer

LOCAL = ProbePolicy.parse(["127.0.0.0/8"])


def probe(
    url: str,
    *,
    allowed: tuple[str, ...] | None = ("127.0.0.1", "localhost"),
    policy: ProbePolicy = LOCAL,
    timeout: float = 2.0,
    ca_file: str | None = None,
) -> ProbeResult:
    async def run() -> ProbeResult:
        guarded = policy if allowed is not None else None
        async with session_for(guarded=guarded, ca_file=ca_file, concurrency=4) as session:
            return await probe_http(
                session, url, allowed_hosts=allowed, policy=policy, timeout=timeout
            )

    return asyncio.run(run())


@pytest.fixture
def server() -> Iterator[LocalServer]:
    running = LocalServer().start()
    yield running
    running.stop()


def test_a_2xx_answer_is_healthy_with_its_latency(server: LocalServer) -> None:
    server.set("/healthz", Behaviour(200))
    result = probe(f"{server.base}/healthz")
    assert result.healthy
    assert result.reason is ProbeReason.SUCCEEDED
    assert result.status_code == 200
    assert result.latency_ms is not None
    assert result.latency_ms >= 0
    assert result.certificate_expires is None  # plain http


def test_an_error_status_is_unhealthy_and_names_the_code(server: LocalServer) -> None:
    server.set("/healthz", Behaviour(503))
    result = probe(f"{server.base}/healthz")
    assert not result.healthy
    assert result.reason is ProbeReason.HTTP_ERROR
    assert result.status_code == 503
    assert "503" in result.message


def test_a_redirect_is_reported_and_not_followed(server: LocalServer) -> None:
    server.set("/healthz", Behaviour(302, location=f"{server.base}/elsewhere"))
    server.set("/elsewhere", Behaviour(200))
    result = probe(f"{server.base}/healthz")
    assert result.reason is ProbeReason.REDIRECTED
    assert "/elsewhere" in result.message
    assert server.hits.get("/elsewhere", 0) == 0


def test_a_slow_answer_is_a_timeout(server: LocalServer) -> None:
    server.set("/slow", Behaviour(200, delay=1))
    result = probe(f"{server.base}/slow", timeout=0.3)
    assert result.reason is ProbeReason.TIMEOUT
    assert "0.3s" in result.message


def test_a_closed_port_is_a_connection_failure(server: LocalServer) -> None:
    url = f"{server.base}/healthz"
    server.stop()
    result = probe(url)
    assert result.reason is ProbeReason.CONNECTION_FAILED


def test_a_name_that_does_not_resolve_is_a_dns_failure() -> None:
    result = probe("http://no-such-host.invalid/healthz", allowed=("*.invalid",))
    assert result.reason is ProbeReason.DNS_FAILURE
    assert "no-such-host.invalid" in result.message


def test_a_host_outside_allowed_hosts_is_never_contacted(server: LocalServer) -> None:
    server.set("/healthz", Behaviour(200))
    result = probe(f"{server.base}/healthz", allowed=("openzaak.example.nl",))
    assert result.reason is ProbeReason.HOST_NOT_ALLOWED
    assert server.hits.get("/healthz", 0) == 0


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_loopback_is_refused_unless_allowed(server: LocalServer, host: str) -> None:
    server.set("/healthz", Behaviour(200))
    url = f"http://{host}:{server.port}/healthz"
    refused = probe(url, policy=ProbePolicy())
    assert refused.reason is ProbeReason.ADDRESS_NOT_ALLOWED
    assert "loopback" in refused.message
    assert server.hits.get("/healthz", 0) == 0
    assert probe(url).healthy


def test_the_metadata_address_is_refused_even_when_its_network_is_allowed() -> None:
    policy = ProbePolicy.parse(["169.254.0.0/16"])
    result = probe(
        "http://169.254.169.254/latest/meta-data/", allowed=("169.254.169.254",), policy=policy
    )
    assert result.reason is ProbeReason.ADDRESS_NOT_ALLOWED
    assert "metadata" in result.message


def test_only_http_urls_are_probed() -> None:
    result = probe("file:///etc/passwd", allowed=("localhost",))
    assert result.reason is ProbeReason.HOST_NOT_ALLOWED


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def tls_server(ca: trustme.CA, **cert: datetime) -> LocalServer:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost", **cert).configure_cert(context)
    server = LocalServer(tls=context).start()
    server.set("/healthz", Behaviour(200))
    return server


def test_tls_reports_the_certificate_expiry(ca: trustme.CA, tmp_path: Path) -> None:
    not_after = datetime.now(UTC).replace(microsecond=0) + timedelta(days=20)
    server = tls_server(ca, not_after=not_after)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    try:
        result = probe(f"{server.base}/healthz", ca_file=str(ca_file))
    finally:
        server.stop()
    assert result.healthy
    assert result.certificate_expires == not_after


def test_an_untrusted_certificate_is_a_tls_error(ca: trustme.CA) -> None:
    server = tls_server(ca)
    try:
        result = probe(f"{server.base}/healthz")
    finally:
        server.stop()
    assert result.reason is ProbeReason.TLS_ERROR


def test_an_expired_certificate_has_its_own_reason(ca: trustme.CA, tmp_path: Path) -> None:
    past = datetime.now(UTC) - timedelta(days=2)
    server = tls_server(ca, not_before=past - timedelta(days=30), not_after=past)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    try:
        result = probe(f"{server.base}/healthz", ca_file=str(ca_file))
    finally:
        server.stop()
    assert result.reason is ProbeReason.CERTIFICATE_EXPIRED
