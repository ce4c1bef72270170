"""How an installation's health is judged and recorded (pure).

A delivery with workloads of its own (containers): they must be available, and the readiness
path must answer 2xx when the operator can reach it; when it cannot (it runs outside the cluster
and is not told to go through the API server), the probe is reported as skipped with the reason,
and health rests on workload availability alone. Without workloads (SaaS): the endpoint's
health path must answer 2xx. Before the first probe the condition is Unknown. What to probe is
each delivery's own (reconcile/delivery/).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from cg_operator.api.component import CGComponentSpec, OfferingType
from cg_operator.api.constants import ANNOTATION_EXPIRES
from cg_operator.api.installation import ProbeResult

HEALTHY = "Healthy"


class ContainerProbeMode(StrEnum):
    """How Container installations are probed (`--container-probe`)."""

    AUTO = "auto"
    """direct in the cluster; off outside it (workload availability only)."""
    DIRECT = "direct"
    """GET http://<service>.<namespace>.svc.<domain><readiness path>."""
    PROXY = "proxy"
    """GET through the API server's service proxy (works from outside the cluster)."""
    OFF = "off"
    """No HTTP probe; workload availability only."""


@dataclass(frozen=True)
class HealthTarget:
    """What to probe for an installation: a URL, or the Service to reach through the proxy."""

    url: str
    delivery: OfferingType
    allowed_hosts: tuple[str, ...] | None = None
    service: str = ""
    namespace: str = ""
    port: int = 0
    path: str = ""


@dataclass(frozen=True)
class Verdict:
    """The Healthy condition."""

    status: Literal["True", "False", "Unknown"]
    reason: str
    message: str


def resolve_mode(mode: ContainerProbeMode, in_cluster: bool) -> ContainerProbeMode:
    """`auto` becomes direct in the cluster and off outside it."""
    if mode is ContainerProbeMode.AUTO:
        return ContainerProbeMode.DIRECT if in_cluster else ContainerProbeMode.OFF
    return mode


def judge(
    *,
    has_workloads: bool,
    workloads_available: bool,
    workloads_message: str,
    probe: ProbeResult | None,
    skipped: str,
    progressing: bool = False,
) -> Verdict:
    """The Healthy condition from workload availability (when the delivery runs workloads of
    its own) and the latest probe.
    `progressing`: the desired version or settings have not run yet (first install, an
    upgrade, a change rolling through the workloads): health is Unknown until they do, so a
    rollout never reads health from before its change and a change is no outage."""
    if has_workloads and not workloads_available:
        if progressing:
            return Verdict("Unknown", "Progressing", workloads_message)
        return Verdict("False", "WorkloadUnavailable", workloads_message)
    if skipped:
        if has_workloads:
            return Verdict(
                "True",
                "WorkloadAvailable",
                f"every workload is available; HTTP probe skipped: {skipped}",
            )
        return Verdict("Unknown", "ProbeSkipped", f"HTTP probe skipped: {skipped}")
    if probe is None:
        return Verdict("Unknown", "ProbePending", "waiting for the first health probe")
    where = probe.url
    message = f"{where}: {probe.message}" if where else probe.message
    return Verdict("True" if probe.healthy else "False", probe.reason.value, message)


@dataclass(frozen=True)
class PublicEndpoint:
    """An exposed installation's public address, and whether its route is taken up yet."""

    url: str
    host: str
    admitted: bool


def public_probe_url(public: PublicEndpoint, component: CGComponentSpec, version: str) -> str:
    """The readiness path at the public address (the root when the version defines none)."""
    found = component.version(version)
    path = found.container.probes.readiness if found and found.container else "/"
    return public.url.rstrip("/") + path


def with_public(verdict: Verdict, public: ProbeResult | None, url: str) -> Verdict:
    """An exposed installation is healthy only when its users reach it: while the in-cluster
    verdict is not True it stands; then the probe of the public URL decides (Unknown until its
    first result)."""
    if verdict.status != "True":
        return verdict
    if public is None:
        return Verdict("Unknown", "ProbePending", f"waiting for the first probe of {url}")
    if public.healthy:
        return verdict
    return Verdict("False", public.reason.value, f"public URL {url}: {public.message}")


def probe_record(
    recorded: dict[str, Any] | None, latest: ProbeResult | None, now: datetime, refresh: timedelta
) -> dict[str, Any] | None:
    """What status.lastProbe should hold: the latest probe when its outcome or version differs
    from the recorded one or the recorded one is older than `refresh`; else the recorded one
    unchanged (so a steady probe makes no status write)."""
    if latest is None:
        return recorded
    if recorded:
        try:
            previous = ProbeResult.model_validate(recorded)
        except ValueError:
            return latest.wire()
        fresh = now - previous.time < refresh
        same = previous.outcome() == latest.outcome() and previous.version == latest.version
        if same and fresh:
            return recorded
    return latest.wire()


def credentials_expiry(annotations: Mapping[str, str]) -> str | None:
    """The credentials Secret's expiry annotation as an RFC 3339 UTC time, or None when absent
    or unreadable."""
    raw = annotations.get(ANNOTATION_EXPIRES)
    if not raw:
        return None
    try:
        when = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
