"""What an installation's pass concludes, decided once and purely (as helm-controller's
`summarize`): which children may be deployed now, whether it is Ready and why, its conditions,
and the events its transitions deserve. The handler gathers, calls these and writes once."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, NamedTuple

from cg_operator.api.base import Condition
from cg_operator.api.conditions import (
    READY,
    RECONCILING,
    STALLED,
    find,
    remove_condition,
    set_condition,
)
from cg_operator.api.refs import Ref
from cg_operator.reconcile.configuration import CONFIGURATION_FAILED, CONFIGURED
from cg_operator.reconcile.delivery import delivery_for
from cg_operator.reconcile.delivery.base import WORKLOAD_KINDS, InstallationPlan, Readiness
from cg_operator.reconcile.health import HEALTHY, Verdict
from cg_operator.reconcile.status import applying_a_change, write_now_because
from cg_operator.reconcile.workloads import changing, rollout_state

DEPENDENCIES_READY = "DependenciesReady"
MISSING_SECRET = "MissingSecret"  # noqa: S105 - a condition reason
MISSING_DEPENDENCY = "MissingDependency"
EXPOSURE_UNAVAILABLE = "ExposureUnavailable"
Status = Literal["True", "False", "Unknown"]
Lookup = Callable[[Ref], Mapping[str, Any] | None]


class Event(NamedTuple):
    """A Kubernetes event to post on the installation. Events of one `series` are one Event
    object counted up (health flapping while someone fights the operator must not become a
    stream); by default a series is the reason and message."""

    reason: str
    message: str
    warning: bool = False
    series: str = ""

    @property
    def key(self) -> str:
        """The series this event counts in."""
        return self.series or f"{self.reason}/{self.message}"


def held(plan: InstallationPlan) -> bool:
    """Whether new workloads wait: a dependency is not Ready or a tenant's Secret is missing.
    Deploying them would only crash-loop; what already runs keeps running."""
    return not plan.dependencies.ready or bool(plan.missing)


def deployable(
    desired: Sequence[dict[str, Any]], plan: InstallationPlan, lookup: Lookup
) -> list[dict[str, Any]] | None:
    """The desired objects to apply now: all of them, or while held, all but new workloads.
    None while held for a delivery without workloads (a SaaS binding): applying its objects
    would write a binding without what is missing, so nothing is applied or pruned."""
    if not held(plan):
        return list(desired)
    if not delivery_for(plan.delivery).has_workloads:
        return None
    return [o for o in desired if o["kind"] not in WORKLOAD_KINDS or lookup(Ref.of(o)) is not None]


def workloads_state(desired: Sequence[dict[str, Any]], lookup: Lookup) -> tuple[bool, str]:
    """Whether every desired workload is available, and if not, the first reason why."""
    for obj in desired:
        if obj["kind"] in WORKLOAD_KINDS:
            available, reason = rollout_state(lookup(Ref.of(obj)))
            if not available:
                return False, reason
    return True, "every workload is available"


def workloads_changing(desired: Sequence[dict[str, Any]], lookup: Lookup) -> bool:
    """Whether a change is moving through any desired workload (reconcile/workloads.changing)."""
    return any(changing(lookup(Ref.of(obj))) for obj in desired if obj["kind"] in WORKLOAD_KINDS)


class Configured(NamedTuple):
    """The Configured condition's status, reason and message (reconcile/configuration)."""

    status: Status
    reason: str
    message: str


def readiness(
    plan: InstallationPlan,
    *,
    wrote: bool,
    workloads: tuple[bool, str],
    configured: Configured | None = None,
) -> Readiness:
    """The Ready verdict, first reason wins: a dependency, a missing Secret, changes just
    applied, what the delivery says, then its configuration (when it has one): a component
    that runs but is not yet connected to the others is not handed over."""
    deps = plan.dependencies
    if not deps.ready:
        return Readiness(False, deps.reason, deps.message)
    if plan.missing:
        return Readiness(False, MISSING_SECRET, "; ".join(plan.missing))
    if plan.unrouted:
        return Readiness(False, EXPOSURE_UNAVAILABLE, plan.unrouted)
    if wrote:
        return Readiness(False, "Progressing", "applied changes; waiting for them to take effect")
    delivered = delivery_for(plan.delivery).readiness(plan, workloads)
    if delivered.ready and configured is not None and configured.status != "True":
        return Readiness(False, configured.reason, configured.message)
    return delivered


def summarize(
    conditions: Sequence[Condition],
    *,
    plan: InstallationPlan,
    ready: Readiness,
    health: Verdict,
    generation: int | None,
    now: datetime,
    configured: Configured | None = None,
) -> list[Condition]:
    """Every condition of a reconciled installation: DependenciesReady, Ready, Reconciling
    (while it works towards Ready, not while a person must act), Healthy, and Configured for
    a component with a configuration."""
    deps = plan.dependencies
    wanted: list[tuple[str, Status, str, str]] = [
        (DEPENDENCIES_READY, "True" if deps.ready else "False", deps.reason, deps.message),
        (READY, "True" if ready.ready else "False", ready.reason, ready.message),
        (HEALTHY, health.status, health.reason, health.message),
    ]
    out = remove_condition(conditions, STALLED)
    if configured is not None:
        wanted.append((CONFIGURED, *configured))
    else:
        out = remove_condition(out, CONFIGURED)
    if not ready.ready and ready.reason != MISSING_DEPENDENCY:
        wanted.append((RECONCILING, "True", ready.reason, ready.message))
    else:
        out = remove_condition(out, RECONCILING)
    for type_, status, reason, message in wanted:
        out = set_condition(
            out,
            type_=type_,
            status=status,
            reason=reason,
            message=message,
            generation=generation,
            now=now,
        )
    return out


def transition_events(
    before: Mapping[str, Any],
    conditions: Sequence[Condition],
    *,
    component: str,
    version: str | None,
    plan: InstallationPlan,
) -> list[Event]:
    """Events on transitions only (`before` is the stored status): installed, upgraded,
    unhealthy, recovered, and a dependency that is missing (waiting for one is normal while a
    tenant comes up; a missing one needs a person)."""
    events = []
    was = {c.get("type"): c for c in before.get("conditions") or []}
    ready = find(conditions, READY)
    if ready and ready.status == "True":
        # By the version that runs, not by Ready's transition: an upgrade done within the
        # status window never stores Ready=False (status_write_cause).
        previous = before.get("observedVersion")
        if previous and previous != version:
            events.append(Event("Upgraded", f"upgraded {previous} -> {version}"))
        elif not previous and was.get(READY, {}).get("status") != "True":
            events.append(
                Event("Installed", f"{component} {version} is Ready ({plan.delivery.value})")
            )
    healthy, was_healthy = find(conditions, HEALTHY), was.get(HEALTHY, {}).get("status")
    if healthy and healthy.status == "False" and was_healthy != "False":
        events.append(Event("Unhealthy", healthy.message, warning=True, series="Unhealthy"))
    elif healthy and healthy.status == "True" and was_healthy == "False":
        events.append(Event("Recovered", healthy.message, series="Recovered"))
    configured, was_configured = find(conditions, CONFIGURED), was.get(CONFIGURED, {})
    if (
        configured
        and configured.reason == CONFIGURATION_FAILED
        and was_configured.get("reason") != CONFIGURATION_FAILED
    ):
        events.append(Event(configured.reason, configured.message, warning=True))
    elif (
        configured
        and configured.status == "True"
        and (
            was_configured.get("status") != "True"
            # Another Job succeeded (a new version's) without a stored step between.
            or was_configured.get("message") != configured.message
        )
    ):
        events.append(Event(CONFIGURED, configured.message))
    deps = find(conditions, DEPENDENCIES_READY)
    if (
        deps
        and deps.reason == MISSING_DEPENDENCY
        and was.get(DEPENDENCIES_READY, {}).get("reason") != deps.reason
    ):
        events.append(Event(deps.reason, deps.message, warning=True, series=deps.reason))
    return _configured_with_ready(events)


def _configured_with_ready(events: list[Event]) -> list[Event]:
    """Configured in the pass that also turned it Ready (the usual first install or upgrade):
    one Event says both, so a person reads one line and the API server takes one write. Its
    reason stays Installed or Upgraded (one per installation, or per version)."""
    ready = next((e for e in events if e.reason in {"Installed", "Upgraded"}), None)
    configured = next((e for e in events if e.reason == CONFIGURED), None)
    if ready is None or configured is None:
        return events
    joined = ready._replace(message=f"{ready.message}; {configured.message}")
    return [joined if e is ready else e for e in events if e is not configured]


def status_write_cause(
    before: Mapping[str, Any], patch: Mapping[str, Any], events: Sequence[Event]
) -> str | None:
    """Why an installation's status write goes out at once (reconcile/status.write_now_because,
    or "warning"), None when it may be held for a while (handlers/status_pacing): it only moves
    progress and none of its events is a warning. A warning (unhealthy, configuration failed, a
    dependency missing) is for a person now; the others (configured, recovered) are posted with
    the write they belong to, a few seconds late. A Ready installation working on a change to
    its spec (reconcile/status.applying_a_change: an upgrade, an edited setting) holds Ready's
    fall and the new generation too: its stored status already shows the change as in progress,
    and a change done within the window is written once, Ready at the new version."""
    cause = None if applying_a_change(before, patch) else write_now_because(before, patch)
    if cause is None and any(event.warning for event in events):
        return "warning"
    return cause
