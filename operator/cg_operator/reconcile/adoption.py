"""Which versions of a component run where, by ring: the catalogue's adoption status. Pure.

The fleet view of the App Store reads these counts instead of every installation of the fleet:
thousands of installations are summed here once per change, not once per page view."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from cg_operator.api.component import OTHER_RING, RING_LIMIT, RingAdoption, VersionAdoption
from cg_operator.api.conditions import READY
from cg_operator.api.constants import LABEL_RING


def _ready(status: Mapping[str, Any]) -> bool:
    return any(
        c.get("type") == READY and c.get("status") == "True" for c in status.get("conditions") or []
    )


def adoption(
    component: str, installations: Iterable[Mapping[str, Any]]
) -> tuple[list[VersionAdoption], int]:
    """(per observed version: installations and how many are Ready, in all and by the ring
    label the tenant pass sets on each installation; tenants subscribed)."""
    running: Counter[tuple[str, str]] = Counter()
    ready: Counter[tuple[str, str]] = Counter()
    tenants: set[str] = set()
    for cgi in installations:
        spec = cgi.get("spec") or {}
        if spec.get("component") != component:
            continue
        tenants.add(str(spec.get("tenant")))
        status = cgi.get("status") or {}
        version = status.get("observedVersion")
        if not version:
            continue
        labels = (cgi.get("metadata") or {}).get("labels") or {}
        key = (str(version), str(labels.get(LABEL_RING) or OTHER_RING))
        running[key] += 1
        ready[key] += _ready(status)
    by_version: dict[str, list[RingAdoption]] = {}
    for (version, ring), count in running.items():
        by_version.setdefault(version, []).append(
            RingAdoption(ring=ring, tenants=count, ready=ready[(version, ring)])
        )
    versions = [
        VersionAdoption(
            version=version,
            tenants=sum(r.tenants for r in rings),
            ready=sum(r.ready for r in rings),
            rings=_bounded(rings),
        )
        for version, rings in sorted(by_version.items())
    ]
    return versions, len(tenants)


def _bounded(rings: list[RingAdoption]) -> list[RingAdoption]:
    """The rings in name order, at most RING_LIMIT: the smallest beyond that are counted
    together under OTHER_RING, so that the status stays within its schema."""
    if len(rings) > RING_LIMIT:
        named = sorted(
            (r for r in rings if r.ring != OTHER_RING), key=lambda r: (-r.tenants, r.ring)
        )
        kept = named[: RING_LIMIT - 1]
        together = named[RING_LIMIT - 1 :] + [r for r in rings if r.ring == OTHER_RING]
        rings = [
            *kept,
            RingAdoption(
                ring=OTHER_RING,
                tenants=sum(r.tenants for r in together),
                ready=sum(r.ready for r in together),
            ),
        ]
    return sorted(rings, key=lambda r: r.ring)
