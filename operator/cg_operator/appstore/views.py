"""What the App Store shows, as pure functions from the objects a person may read to rows:
a municipality's components, a component's fleet across municipalities, a rollout's waves.
`kubectl cg` prints them; nothing here talks to the API server."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cg_operator.api.constants import LABEL_RING

Obj = Mapping[str, Any]
UNKNOWN = "Unknown"


def condition(obj: Obj, type_: str) -> Mapping[str, Any]:
    """A status condition by type; {} when there is none."""
    for found in (obj.get("status") or {}).get("conditions") or []:
        if found.get("type") == type_:
            return dict(found)
    return {}


def version_key(version: str) -> tuple[tuple[int, ...], int, str]:
    """Order of release numbers: 1.10.0 after 1.9.2, and 1.30.0-rc.1 before 1.30.0."""
    core, _, pre = version.partition("-")
    numbers = tuple(int(n) for n in re.findall(r"\d+", core))
    return numbers, 0 if pre else 1, pre


def upgrade_available(running: str | None, component: Obj | None) -> str | None:
    """The catalogue's recommended version (its defaultVersion) when it is newer than what
    runs, else None."""
    recommended = ((component or {}).get("spec") or {}).get("defaultVersion")
    if not running or not recommended:
        return None
    return recommended if version_key(recommended) > version_key(running) else None


@dataclass(frozen=True)
class ComponentState:
    """One subscribed component of a municipality, as its installation reports it."""

    component: str
    offering: str
    delivery: str
    version: str
    wanted: str
    ready: str
    healthy: str
    reason: str
    message: str
    upgrade: str | None


def tenant_components(
    tenant: Obj, installations: Iterable[Obj], catalogue: Mapping[str, Obj]
) -> list[ComponentState]:
    """Each subscribed component of the tenant with what its installation says; a
    subscription without an installation yet is Unknown, with the reason why."""
    found = {(i.get("spec") or {}).get("component"): i for i in installations}
    rows = []
    for subscription in (tenant.get("spec") or {}).get("components") or []:
        name = subscription["name"]
        live = found.get(name)
        if live is None:
            rows.append(
                ComponentState(
                    name,
                    subscription.get("offering", ""),
                    "",
                    "",
                    subscription.get("version") or "",
                    UNKNOWN,
                    UNKNOWN,
                    "NotInstalled",
                    "no installation yet: the operator has not made it",
                    None,
                )
            )
            continue
        ready, healthy = condition(live, "Ready"), condition(live, "Healthy")
        status = live.get("status") or {}
        running = status.get("observedVersion") or ""
        rows.append(
            ComponentState(
                name,
                subscription.get("offering", ""),
                status.get("delivery") or "",
                running,
                (live.get("spec") or {}).get("version") or "",
                ready.get("status", UNKNOWN),
                healthy.get("status", UNKNOWN),
                ready.get("reason", ""),
                ready.get("message", ""),
                upgrade_available(running, catalogue.get(name)),
            )
        )
    return sorted(rows, key=lambda r: r.component)


@dataclass
class FleetRing:
    """One ring of a component's fleet: how many municipalities run each version, and each
    municipality's own state."""

    ring: str
    versions: dict[str, int] = field(default_factory=dict)
    tenants: list[tuple[str, str, str, str]] = field(default_factory=list)
    """(tenant, running version, Ready, Healthy)."""


@dataclass(frozen=True)
class Fleet:
    """A component across all municipalities that run it, grouped by ring."""

    component: str
    versions: list[str]
    """Every version running anywhere, newest first."""
    rings: list[FleetRing]
    ready: int
    total: int
    upgrades: int
    """Municipalities running something older than the catalogue's recommended version."""


def fleet(
    component: str,
    entry: Obj | None,
    tenants: Iterable[Obj],
    installations: Iterable[Obj],
    ring_order: Sequence[str] = ("koploper", "vroege-volger", "volger"),
) -> Fleet:
    """The version matrix of one component: installations by their tenant's ring."""
    ring_of = {
        t["metadata"]["name"]: (
            (t["metadata"].get("labels") or {}).get(LABEL_RING)
            or (t.get("spec") or {}).get("ring")
            or "volger"
        )
        for t in tenants
    }
    rings: dict[str, FleetRing] = defaultdict(lambda: FleetRing(""))
    ready = total = upgrades = 0
    seen: set[str] = set()
    for live in installations:
        spec = live.get("spec") or {}
        if spec.get("component") != component:
            continue
        tenant = spec.get("tenant") or ""
        ring = ring_of.get(tenant, UNKNOWN)
        version = (live.get("status") or {}).get("observedVersion") or "-"
        row = rings[ring]
        row.ring = ring
        row.versions[version] = row.versions.get(version, 0) + 1
        is_ready = condition(live, "Ready").get("status", UNKNOWN)
        row.tenants.append(
            (tenant, version, is_ready, condition(live, "Healthy").get("status", UNKNOWN))
        )
        total += 1
        ready += is_ready == "True"
        upgrades += upgrade_available(version if version != "-" else None, entry) is not None
        seen.add(version)
    order = {name: i for i, name in enumerate(ring_order)}
    ordered = sorted(rings.values(), key=lambda r: (order.get(r.ring, len(order)), r.ring))
    for ring_row in ordered:
        ring_row.tenants.sort()
    versions = sorted(seen - {"-"}, key=version_key, reverse=True) + (["-"] if "-" in seen else [])
    return Fleet(component, versions, ordered, ready, total, upgrades)


@dataclass(frozen=True)
class RolloutView:
    """A rollout as a delivery organisation follows it."""

    name: str
    component: str
    version: str
    phase: str
    """Complete, Failed, Aborted, Paused, Progressing or Pending."""
    message: str
    current_wave: str
    progress: str
    waves: list[Mapping[str, Any]]
    tenants: list[Mapping[str, Any]]


def rollout_view(rollout: Obj) -> RolloutView:
    """The phase a person reads first, from the conditions the operator sets (Complete,
    Failed, Paused, Progressing; an abort is Progressing=False with reason Aborted)."""
    spec, status = rollout.get("spec") or {}, rollout.get("status") or {}
    progressing = condition(rollout, "Progressing")
    phase, message = "Pending", progressing.get("message", "")
    if progressing.get("reason") == "Aborted":
        phase = "Aborted"
    else:
        for type_ in ("Complete", "Failed", "Paused", "Progressing"):
            found = condition(rollout, type_)
            if found.get("status") == "True":
                phase, message = type_, found.get("message", "")
                break
    return RolloutView(
        rollout["metadata"]["name"],
        spec.get("component", ""),
        spec.get("version", ""),
        phase,
        message,
        status.get("currentWave") or "",
        status.get("progress") or "",
        list(status.get("waves") or []),
        list(status.get("tenants") or []),
    )


def rollout_done(view: RolloutView) -> bool | None:
    """True when it completed, False when it failed or was aborted, None while it runs."""
    if view.phase == "Complete":
        return True
    if view.phase in ("Failed", "Aborted"):
        return False
    return None


def table_rows(table: Obj, *, wide: bool = False) -> tuple[list[str], list[list[str]]]:
    """(headers, rows) of a meta.k8s.io Table the API server printed with the kind's own
    printer columns; columns of priority > 0 only when wide, as kubectl does."""
    columns = table.get("columnDefinitions") or []
    keep = [i for i, c in enumerate(columns) if wide or not c.get("priority")]
    headers = [columns[i]["name"].upper() for i in keep]
    rows = [
        ["" if row["cells"][i] is None else str(row["cells"][i]) for i in keep]
        for row in table.get("rows") or []
    ]
    return headers, rows


def render_table(headers: Sequence[str], rows: Iterable[Sequence[str]], *, no_headers: bool) -> str:
    """Columns as kubectl prints them: left-aligned, three spaces apart."""
    body = [list(map(str, r)) for r in rows]
    lines = body if no_headers else [list(headers), *body]
    if not lines:
        return ""
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    return "\n".join(
        "   ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )
