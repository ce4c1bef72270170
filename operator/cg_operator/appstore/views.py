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
# The installation field the API server selects one component's installations by (a
# selectableField of the CRD, api/kinds).
COMPONENT_FIELD = "spec.component"
# The rings in rollout order; any other ring comes after them, by name.
RING_ORDER = ("koploper", "vroege-volger", "volger")


def ring_rank(ring: str) -> tuple[int, str]:
    return (RING_ORDER.index(ring) if ring in RING_ORDER else len(RING_ORDER), ring)


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
    """(tenant, running version, Ready, Healthy); empty where the fleet comes from the
    catalogue's counts (fleet_from_adoption)."""


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

    def ring(self, name: str) -> FleetRing | None:
        """One ring's row, or None where the component runs in none of its municipalities."""
        return next((r for r in self.rings if r.ring == name), None)


def tenant_rings(tenants: Iterable[Obj]) -> dict[str, str]:
    """Each municipality's ring, by tenant name (a label the operator sets, else the spec's
    ring, else the default ring)."""
    return {
        t["metadata"]["name"]: (
            (t["metadata"].get("labels") or {}).get(LABEL_RING)
            or (t.get("spec") or {}).get("ring")
            or "volger"
        )
        for t in tenants
    }


def fleet(
    component: str,
    entry: Obj | None,
    ring_of: Mapping[str, str],
    installations: Iterable[Obj],
) -> Fleet:
    """The version matrix of one component: installations by their tenant's ring
    (`ring_of`, from `tenant_rings`)."""
    by_ring: dict[str, FleetRing] = defaultdict(lambda: FleetRing(""))
    ready = total = upgrades = 0
    # Thousands of installations run a handful of versions: compare each version once.
    outdated: dict[str, bool] = {}
    for live in installations:
        spec = live.get("spec") or {}
        if spec.get("component") != component:
            continue
        tenant = spec.get("tenant") or ""
        ring = ring_of.get(tenant, UNKNOWN)
        version = (live.get("status") or {}).get("observedVersion") or "-"
        row = by_ring[ring]
        row.ring = ring
        row.versions[version] = row.versions.get(version, 0) + 1
        is_ready = condition(live, "Ready").get("status", UNKNOWN)
        row.tenants.append(
            (tenant, version, is_ready, condition(live, "Healthy").get("status", UNKNOWN))
        )
        total += 1
        ready += is_ready == "True"
        if version not in outdated:
            running = version if version != "-" else None
            outdated[version] = upgrade_available(running, entry) is not None
        upgrades += outdated[version]
    ordered = sorted(by_ring.values(), key=lambda r: ring_rank(r.ring))
    for ring_row in ordered:
        ring_row.tenants.sort()
    seen = set(outdated)
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


# The catalogue's filters: query parameter -> how a card's values are found.
FILTERS = ("layer", "tier", "lifecycle", "delivery", "standard", "steward")


@dataclass(frozen=True)
class Card:
    """A component as the catalogue shows it."""

    name: str
    display_name: str
    description: str
    layer: str
    tier: str
    lifecycle: str
    deliveries: list[str]
    standards: list[str]
    steward: str
    default_version: str
    tenants: int

    def values(self, facet: str) -> list[str]:
        """The card's values for one filter."""
        found = {
            "layer": [self.layer],
            "tier": [self.tier],
            "lifecycle": [self.lifecycle],
            "delivery": self.deliveries,
            "standard": self.standards,
            "steward": [self.steward] if self.steward else [],
        }
        return found[facet]


def card(component: Obj) -> Card:
    spec, status = component.get("spec") or {}, component.get("status") or {}
    return Card(
        component["metadata"]["name"],
        spec.get("displayName", component["metadata"]["name"]),
        spec.get("description", ""),
        spec.get("layer", ""),
        spec.get("tier", "Plus"),
        spec.get("lifecycle", ""),
        sorted({o.get("type", "") for o in spec.get("offerings") or []}),
        sorted({s["name"] for s in spec.get("standards") or []}),
        (spec.get("steward") or {}).get("name", ""),
        spec.get("defaultVersion", ""),
        int(status.get("tenants") or 0),
    )


@dataclass(frozen=True)
class Catalogue:
    """The cards that pass the filters and search, and every filter's choices (from all
    cards, so a choice never disappears because another filter is set)."""

    cards: list[Card]
    facets: dict[str, list[str]]
    total: int


def catalogue(components: Iterable[Obj], chosen: Mapping[str, str], search: str = "") -> Catalogue:
    cards = sorted((card(c) for c in components), key=lambda c: c.display_name.lower())
    facets = {f: sorted({v for c in cards for v in c.values(f)}) for f in FILTERS}
    words = search.lower().split()

    def matches(c: Card) -> bool:
        if any(chosen.get(f) and chosen[f] not in c.values(f) for f in FILTERS):
            return False
        text = " ".join([c.name, c.display_name, c.description, *c.standards, c.steward]).lower()
        return all(w in text for w in words)

    return Catalogue([c for c in cards if matches(c)], facets, len(cards))


@dataclass(frozen=True)
class VersionRow:
    version: str
    end_of_support: str
    deprecated: bool
    default: bool
    running: int


def component_versions(component: Obj, installations: Iterable[Obj]) -> list[VersionRow]:
    """The catalogue's versions, newest first, with how many municipalities run each."""
    spec = component.get("spec") or {}
    name = component["metadata"]["name"]
    running: dict[str, int] = {}
    for live in installations:
        if (live.get("spec") or {}).get("component") == name:
            version = (live.get("status") or {}).get("observedVersion")
            if version:
                running[version] = running.get(version, 0) + 1
    rows = [
        VersionRow(
            v["version"],
            str(v.get("endOfSupport") or ""),
            bool(v.get("deprecated")),
            v["version"] == spec.get("defaultVersion"),
            running.get(v["version"], 0),
        )
        for v in spec.get("versions") or []
    ]
    return sorted(rows, key=lambda r: version_key(r.version), reverse=True)


@dataclass(frozen=True)
class FleetPage:
    """The fleet view: one page of components, each with its fleet by ring."""

    fleets: list[Fleet]
    rings: list[str]
    page: int
    pages: int


def fleet_from_adoption(entry: Obj) -> Fleet:
    """A component's version matrix from the counts the operator keeps in its catalogue
    status (`status.adoption`, by version and ring): no installation is read. The rings carry
    counts only, not each municipality's state."""
    by_ring: dict[str, FleetRing] = {}
    ready = total = upgrades = 0
    seen: list[str] = []
    for version in (entry.get("status") or {}).get("adoption") or []:
        name = str(version.get("version") or "-")
        seen.append(name)
        count = int(version.get("tenants") or 0)
        total += count
        ready += int(version.get("ready") or 0)
        if upgrade_available(name, entry) is not None:
            upgrades += count
        for ring in version.get("rings") or []:
            label = str(ring.get("ring") or UNKNOWN)  # OTHER_RING: unlabelled or folded
            row = by_ring.setdefault(label, FleetRing(label))
            row.versions[name] = row.versions.get(name, 0) + int(ring.get("tenants") or 0)
    # An installation that reports no version yet is in no version's count, but its tenant is
    # subscribed (status.tenants): it counts as not Ready rather than not at all.
    subscribed = int((entry.get("status") or {}).get("tenants") or 0)
    return Fleet(
        entry["metadata"]["name"],
        sorted(seen, key=version_key, reverse=True),
        sorted(by_ring.values(), key=lambda r: ring_rank(r.ring)),
        ready,
        max(total, subscribed),
        upgrades,
    )


def fleet_page(components: Iterable[Obj], *, page: int = 1, per_page: int = 20) -> FleetPage:
    """Every component's fleet, paged over components in name order. The counts come from
    each catalogue entry's status, summed by the operator as installations change: at
    national scale (thousands of installations) a page view reads a few dozen objects."""
    entries = sorted(components, key=lambda c: c["metadata"]["name"])
    pages = max(1, -(-len(entries) // per_page))
    page = min(max(1, page), pages)
    fleets = [fleet_from_adoption(c) for c in entries[(page - 1) * per_page : page * per_page]]
    rings = sorted({r.ring for f in fleets for r in f.rings}, key=ring_rank)
    return FleetPage(fleets, rings, page, pages)


def pending_approvals(tenant: str, rollouts: Iterable[Obj]) -> list[tuple[str, str, str]]:
    """(rollout, component, version) of each rollout that waits for this tenant's approval."""
    waiting = []
    for rollout in rollouts:
        for entry in (rollout.get("status") or {}).get("tenants") or []:
            if entry.get("name") == tenant and entry.get("state") == "WaitingForApproval":
                spec = rollout.get("spec") or {}
                waiting.append(
                    (
                        rollout["metadata"]["name"],
                        spec.get("component", ""),
                        spec.get("version", ""),
                    )
                )
    return sorted(waiting)


def quota_use(quotas: Iterable[Obj]) -> list[tuple[str, str, str]]:
    """(resource, used, hard) of the namespace's quotas."""
    rows = []
    for quota in quotas:
        status = quota.get("status") or {}
        hard, used = status.get("hard") or {}, status.get("used") or {}
        rows += [(key, str(used.get(key, "0")), str(value)) for key, value in hard.items()]
    return sorted(rows)
