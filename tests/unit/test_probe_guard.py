"""The SSRF guard: which addresses a SaaS probe may reach, with and without allowed networks."""

from __future__ import annotations

import ipaddress

import pytest

from cg_operator.health.guard import ProbePolicy, address_refusal, literal_refusal

NO_EXTRAS = ProbePolicy()
LOOPBACK_ALLOWED = ProbePolicy.parse(["127.0.0.0/8", "169.254.0.0/16"])


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("169.254.169.254", "metadata"),
        ("fd00:ec2::254", "metadata"),
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("169.254.10.1", "link-local"),
        ("fe80::1", "link-local"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 - an address under test, not a bind
        ("224.0.0.1", "multicast"),
        ("100.64.0.1", "carrier-grade NAT"),
        # Other clouds' metadata and platform endpoints.
        ("169.254.170.2", "metadata"),
        ("169.254.170.23", "metadata"),
        ("fd00:ec2::23", "metadata"),
        ("100.100.100.200", "metadata"),
        ("168.63.129.16", "metadata"),
        # IPv6 forms that reach an internal IPv4 address: 6to4, NAT64, Teredo.
        ("2002:a9fe:a9fe::1", "metadata"),
        ("2002:0a00:0001::1", "private"),
        ("64:ff9b::7f00:1", "loopback"),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "private"),
        ("fec0::1", "site-local"),
    ],
)
def test_internal_addresses_are_refused_by_default(address: str, why: str) -> None:
    refusal = address_refusal(ipaddress.ip_address(address), NO_EXTRAS)
    assert refusal is not None
    assert why in refusal


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "145.222.1.1", "2a00:1450:400e::200e", "2002:0808:0808::1"]
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address), NO_EXTRAS) is None


def test_an_allowed_network_opens_loopback_but_never_the_metadata_address() -> None:
    assert address_refusal(ipaddress.ip_address("127.0.0.1"), LOOPBACK_ALLOWED) is None
    assert address_refusal(ipaddress.ip_address("169.254.1.1"), LOOPBACK_ALLOWED) is None
    metadata = address_refusal(ipaddress.ip_address("169.254.169.254"), LOOPBACK_ALLOWED)
    assert metadata is not None
    assert "metadata" in metadata
    assert address_refusal(ipaddress.ip_address("10.0.0.1"), LOOPBACK_ALLOWED) is not None


def test_ip_literals_are_checked_and_names_left_to_the_resolver() -> None:
    assert literal_refusal("169.254.169.254", LOOPBACK_ALLOWED) is not None
    assert literal_refusal("[::1]", NO_EXTRAS) is not None
    assert literal_refusal("openzaak.example.nl", NO_EXTRAS) is None


def test_a_bad_cidr_names_the_setting() -> None:
    with pytest.raises(ValueError, match=r"--probe-allow-cidr '10\.0\.0\.300/8'"):
        ProbePolicy.parse(["10.0.0.300/8"])
