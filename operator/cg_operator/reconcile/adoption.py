"""Which versions of a component run where: the catalogue's adoption status. Pure."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from cg_operator.api.component import VersionAdoption
from cg_operator.api.conditions import READY


def adoption(
    component: str, installations: Iterable[Mapping[str, Any]]
) -> tuple[list[VersionAdoption], int]:
    """(per observed version: installations and how many are Ready; tenants subscribed)."""
    running: Counter[str] = Counter()
    ready: Counter[str] = Counter()
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
        running[version] += 1
        if any(
            c.get("type") == READY and c.get("status") == "True"
            for c in status.get("conditions") or []
        ):
            ready[version] += 1
    versions = [
        VersionAdoption(version=v, tenants=running[v], ready=ready[v]) for v in sorted(running)
    ]
    return versions, len(tenants)
