"""One HTTP(S) health probe: GET the health URL, never follow a redirect, time it, read the TLS
certificate's expiry, and turn every way it can fail into its own reason."""

from __future__ import annotations

import ssl
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import urlsplit

import aiohttp

from cg_operator.api.component import host_allowed
from cg_operator.api.installation import ProbeReason, ProbeResult
from cg_operator.health.guard import (
    GuardedResolver,
    ProbePolicy,
    literal_refusal,
    unwrap_refusal,
)

CERTIFICATE_EXPIRED = 10  # X509_V_ERR_CERT_HAS_EXPIRED


def _result(reason: ProbeReason, message: str, url: str, **fields: object) -> ProbeResult:
    return ProbeResult.model_validate(
        {
            "time": datetime.now(UTC).replace(microsecond=0),
            "healthy": reason is ProbeReason.SUCCEEDED,
            "reason": reason,
            "message": message[:1024],
            "url": url[:1024],
            **fields,
        }
    )


def refusal(
    url: str, allowed_hosts: Sequence[str] | None, policy: ProbePolicy
) -> ProbeResult | None:
    """The failed result for a URL the guard refuses before any connection, else None.
    `allowed_hosts` None: the URL was built by the operator (an in-cluster Service)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host:
        return _result(ProbeReason.HOST_NOT_ALLOWED, f"only http(s) URLs are probed: {url}", url)
    if allowed_hosts is not None and not host_allowed(host, list(allowed_hosts)):
        return _result(
            ProbeReason.HOST_NOT_ALLOWED,
            f"host {host!r} is not in the offering's allowedHosts ({', '.join(allowed_hosts)})",
            url,
        )
    if allowed_hosts is not None:
        why = literal_refusal(host, policy)
        if why is not None:
            return _result(ProbeReason.ADDRESS_NOT_ALLOWED, why, url)
    return None


def _certificate_expiry(response: aiohttp.ClientResponse) -> datetime | None:
    # aiohttp hands a connection back to its pool as soon as a small body is read, so
    # `response.connection` is often None already; the protocol (kept by the response) still
    # has the TLS transport. The unit tests fail if an aiohttp release changes this.
    connection = response.connection
    protocol = (
        connection.protocol if connection is not None else getattr(response, "_protocol", None)
    )
    transport = getattr(protocol, "transport", None)
    ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
    if not isinstance(ssl_object, ssl.SSLObject | ssl.SSLSocket):
        return None
    certificate = ssl_object.getpeercert()
    not_after = certificate.get("notAfter") if certificate else None
    if not isinstance(not_after, str):
        return None
    return datetime.fromtimestamp(ssl.cert_time_to_seconds(not_after), UTC)


async def probe_http(
    session: aiohttp.ClientSession,
    url: str,
    *,
    allowed_hosts: Sequence[str] | None,
    policy: ProbePolicy,
    timeout: float,
) -> ProbeResult:
    """GET `url` once; 2xx is healthy. `session` must use the guarded resolver for user-given
    URLs (allowed_hosts not None)."""
    refused = refusal(url, allowed_hosts, policy)
    if refused is not None:
        return refused
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        async with session.get(
            url, allow_redirects=False, timeout=aiohttp.ClientTimeout(total=timeout)
        ) as response:
            expires = _certificate_expiry(response)
            await response.content.read(64 * 1024)
    except (TimeoutError, aiohttp.ClientError, OSError) as error:
        return classify_error(error, url, timeout, elapsed())
    return classify_status(
        url, response.status, response.headers.get("Location"), elapsed(), expires
    )


def classify_error(error: BaseException, url: str, timeout: float, latency_ms: int) -> ProbeResult:
    """The result for a request that got no HTTP answer: each failure mode its own reason."""
    refused_address = unwrap_refusal(error)
    if refused_address is not None:
        return _result(ProbeReason.ADDRESS_NOT_ALLOWED, str(refused_address), url)
    if isinstance(error, TimeoutError):
        return _result(ProbeReason.TIMEOUT, f"no answer within {timeout:g}s", url)
    if isinstance(error, aiohttp.ClientConnectorCertificateError):
        expired = getattr(error.certificate_error, "verify_code", None) == CERTIFICATE_EXPIRED
        reason = ProbeReason.CERTIFICATE_EXPIRED if expired else ProbeReason.TLS_ERROR
        return _result(reason, f"TLS: {error.certificate_error}", url, latency_ms=latency_ms)
    if isinstance(error, aiohttp.ClientSSLError):
        return _result(ProbeReason.TLS_ERROR, f"TLS: {error}", url, latency_ms=latency_ms)
    if isinstance(error, aiohttp.ClientConnectorDNSError):
        return _result(ProbeReason.DNS_FAILURE, f"cannot resolve {error.host}", url)
    return _result(
        ProbeReason.CONNECTION_FAILED,
        f"{type(error).__name__}: {error}",
        url,
        latency_ms=latency_ms,
    )


def classify_status(
    url: str, status: int, location: str | None, latency_ms: int, expires: datetime | None = None
) -> ProbeResult:
    """The result for an HTTP answer: 2xx healthy, 3xx Redirected (not followed), else HTTPError."""
    fields: dict[str, object] = {
        "status_code": status,
        "latency_ms": latency_ms,
        "certificate_expires": expires,
    }
    if 200 <= status < 300:
        return _result(
            ProbeReason.SUCCEEDED, f"GET answered {status} in {latency_ms} ms", url, **fields
        )
    if 300 <= status < 400:
        where = f" to {location}" if location else ""
        return _result(
            ProbeReason.REDIRECTED,
            f"GET answered {status}, a redirect{where} (not followed)",
            url,
            **fields,
        )
    return _result(ProbeReason.HTTP_ERROR, f"GET answered {status}", url, **fields)


def session_for(
    *, guarded: ProbePolicy | None, ca_file: str | None, concurrency: int
) -> aiohttp.ClientSession:
    """A client session: with the SSRF-guarded resolver for user-given URLs (guarded set), with
    the system trust store plus `ca_file`, at most `concurrency` connections."""
    context = ssl.create_default_context()
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    connector = aiohttp.TCPConnector(
        ssl=context,
        limit=concurrency,
        resolver=GuardedResolver(guarded) if guarded is not None else None,
        use_dns_cache=False,
    )
    return aiohttp.ClientSession(
        connector=connector, headers={"User-Agent": "cg-operator-probe"}, trust_env=False
    )
