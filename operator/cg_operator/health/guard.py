"""The SSRF guard for probes of user-given URLs: which hosts and which addresses may be asked.

A SaaS endpoint comes from a catalogue template filled in per municipality, so the operator must
not become a way to reach the cluster's own network: the host must be one the offering allows,
and every address the name resolves to must be public, unless an operator setting allows a
network (tests allow 127.0.0.0/8 for a local server). The check runs inside the HTTP client's
resolver, on the addresses actually connected to, so a DNS answer cannot change between the
check and the connection.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from cg_operator.api.constants import METADATA_ADDRESSES as METADATA

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in METADATA)
# IPv6 forms that carry an IPv4 address a packet may end up at: NAT64 (64:ff9b::/96).
NAT64 = ipaddress.ip_network("64:ff9b::/96")


@dataclass(frozen=True)
class ProbePolicy:
    """Networks the operator was told to allow on top of the public internet."""

    allowed_networks: tuple[IPNetwork, ...] = field(default=())

    @classmethod
    def parse(cls, cidrs: Sequence[str]) -> ProbePolicy:
        """From `--probe-allow-cidr` values; a bad one raises ValueError naming it."""
        networks = []
        for cidr in cidrs:
            try:
                networks.append(ipaddress.ip_network(cidr, strict=False))
            except ValueError as error:
                raise ValueError(f"--probe-allow-cidr {cidr!r}: {error}") from None
        return cls(tuple(networks))


def address_refusal(address: IPAddress, policy: ProbePolicy) -> str | None:
    """Why a probe may not connect to `address`, or None when it may. Cloud metadata addresses
    are refused even inside an allowed network."""
    if address in METADATA_ADDRESSES:
        return f"{address} is a cloud metadata address"
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        # Judged as the IPv4 address it carries: 6to4 and NAT64 reach it, mapped forms are it.
        return address_refusal(embedded, policy)
    if any(address in network for network in policy.allowed_networks):
        return None
    for flag, what in (
        ("is_loopback", "loopback"),
        ("is_link_local", "link-local"),
        ("is_unspecified", "unspecified"),
        ("is_multicast", "multicast"),
        ("is_private", "private"),
        ("is_reserved", "reserved"),
        ("is_site_local", "site-local"),
    ):
        if getattr(address, flag, False):
            return f"{address} is a {what} address (allow it with --probe-allow-cidr)"
    if address in ipaddress.ip_network("100.64.0.0/10"):
        return f"{address} is a shared (carrier-grade NAT) address"
    return None


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address maps to or tunnels to (mapped, 6to4, Teredo, NAT64)."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def literal_refusal(host: str, policy: ProbePolicy) -> str | None:
    """Why a host given as an IP literal may not be probed (None for names and allowed IPs)."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    return address_refusal(address, policy)


class AddressNotAllowedError(OSError):
    """A probe's host resolved to an address the policy refuses."""


class GuardedResolver(AbstractResolver):
    """aiohttp resolver that refuses (all of) a host's answer when any address is refused."""

    def __init__(self, policy: ProbePolicy, inner: AbstractResolver | None = None) -> None:
        self._policy = policy
        self._inner = inner or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """Resolve, then check every address before aiohttp may connect to any of them.
        (aiohttp does not call a resolver for IP literals: `literal_refusal` covers those.)"""
        results = await self._inner.resolve(host, port, family)
        for result in results:
            refusal = address_refusal(ipaddress.ip_address(result["host"]), self._policy)
            if refusal is not None:
                raise AddressNotAllowedError(f"{host}: {refusal}")
        return results

    async def close(self) -> None:
        """Close the wrapped resolver."""
        await self._inner.close()


def unwrap_refusal(error: BaseException) -> AddressNotAllowedError | None:
    """The guard's refusal inside an aiohttp connection error, if that is what it was."""
    seen: set[int] = set()
    current: Any = error
    while current is not None and id(current) not in seen:
        if isinstance(current, AddressNotAllowedError):
            return current
        seen.add(id(current))
        current = getattr(current, "os_error", None) or current.__cause__ or current.__context__
    return None
