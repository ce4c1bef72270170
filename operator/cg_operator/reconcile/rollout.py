"""The rollout engine (pure): from a rollout's spec and stored progress, the subscribed tenants
and their installations as observed, and the time, compute the next progress, which version
each tenant should run, the events to post, and when to look again.

All state lives in the rollout's status (per tenant: from, to, state, startedAt; per wave:
startedAt, healthySince, completedAt), so a restarted operator resumes where it was. Progress
is gated on what each installation actually runs: its observed version, Ready, and Healthy
computed for the current spec (a probe of the new version), never on health from before.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from cg_operator.api.base import Condition
from cg_operator.api.conditions import READY, set_condition
from cg_operator.api.rollout import (
    ComponentRolloutSpec,
    FailurePolicy,
    SelectorRequirement,
    TenantProgress,
    TenantSelector,
    Wave,
    WaveProgress,
)
from cg_operator.api.tenant import UpgradePolicy

PROGRESSING, PAUSED, COMPLETE, FAILED = "Progressing", "Paused", "Complete", "Failed"
Status = Literal["True", "False", "Unknown"]


class TenantState(StrEnum):
    """Where one tenant is in a rollout."""

    PENDING = "Pending"
    WAITING = "WaitingForApproval"
    UPDATING = "Updating"
    BAKING = "Baking"
    DONE = "Done"
    FAILED = "Failed"
    ROLLED_BACK = "RolledBack"
    SKIPPED = "Skipped"


MOVED = frozenset({TenantState.UPDATING, TenantState.BAKING, TenantState.DONE, TenantState.FAILED})
ON_TARGET = frozenset({TenantState.BAKING, TenantState.DONE})


@dataclass(frozen=True)
class InstallationView:
    """What a tenant's installation of the component runs, as observed."""

    version: str
    """spec.version: what it is asked to run."""
    observed_version: str
    """status.observedVersion: what runs (set only once Ready on that spec)."""
    generation: int
    ready: bool
    healthy: str
    """The Healthy condition's status: True, False, Unknown, or "" when absent."""
    healthy_generation: int | None
    """The generation the Healthy condition was computed for."""
    probe_version: str | None
    """The version status.lastProbe was taken for; None when no probe is recorded."""
    message: str = ""
    """Why it is not Ready or not Healthy."""

    def runs_healthy(self, target: str) -> bool:
        """Runs `target`, Ready, and Healthy as judged after the change to it."""
        return (
            self.version == target
            and self.observed_version == target
            and self.ready
            and self.healthy == "True"
            and self.healthy_generation == self.generation
            and self.probe_version in (None, target)
        )


@dataclass(frozen=True)
class TenantView:
    """A tenant subscribed to the rollout's component."""

    name: str
    labels: Mapping[str, str]
    policy: UpgradePolicy
    approved: bool
    """Its spec.approvedRollouts approves this rollout: its name, component and version."""
    pinned: str | None
    """The subscription's version pin."""
    installation: InstallationView | None


@dataclass
class RolloutStep:
    """The outcome of one pass."""

    conditions: list[Condition]
    waves: list[WaveProgress]
    tenants: list[TenantProgress]
    current_wave: str | None
    progress: str
    assignments: dict[str, str]
    """tenant -> the version this rollout wants it to run."""
    events: list[tuple[str, str, bool]] = field(default_factory=list)
    """(reason, message, warning)."""
    recheck: timedelta | None = None
    """Look again after this long even if nothing changes (bake and progress deadlines)."""


def parse_duration(text: str) -> timedelta:
    """A Go-style duration (90s, 1h30m, 1.5h, 250ms) as a timedelta."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    seconds = sum(float(n) * units[u] for n, u in re.findall(r"([0-9.]+)(ms|s|m|h)", text))
    return timedelta(seconds=seconds)


def selects(selector: TenantSelector, labels: Mapping[str, str]) -> bool:
    """metav1.LabelSelector semantics; an empty selector matches everything."""
    if any(labels.get(k) != v for k, v in selector.match_labels.items()):
        return False
    return all(_requirement(r, labels) for r in selector.match_expressions)


def _requirement(requirement: SelectorRequirement, labels: Mapping[str, str]) -> bool:
    present = requirement.key in labels
    value = labels.get(requirement.key)
    match requirement.operator:
        case "In":
            return present and value in requirement.values
        case "NotIn":
            return not present or value not in requirement.values
        case "Exists":
            return present
        case _:
            return not present


def parallel_limit(wave: Wave, members: int) -> int:
    """maxParallel as a number of tenants: a percentage of the wave, rounded down, at least 1."""
    value = wave.max_parallel
    if isinstance(value, str):
        return max(1, math.floor(members * int(value.rstrip("%")) / 100))
    return max(1, value)


def assignments_of(body: Mapping[str, Any]) -> dict[str, str]:
    """tenant -> version one rollout's stored progress holds it at: the target for tenants it
    moved, the previous version for tenants it rolled back."""
    out = {}
    for entry in (body.get("status") or {}).get("tenants") or []:
        state, name = entry.get("state"), entry.get("name")
        if state in {s.value for s in MOVED} and entry.get("to"):
            out[str(name)] = str(entry["to"])
        elif state == TenantState.ROLLED_BACK.value and entry.get("from"):
            out[str(name)] = str(entry["from"])
    return out


def assignments_for(tenant: str, rollouts: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """component -> version that rollouts hold `tenant` at; the newest rollout wins."""
    out: dict[str, str] = {}

    def created(body: Mapping[str, Any]) -> tuple[str, str]:
        meta = body.get("metadata") or {}
        return str(meta.get("creationTimestamp") or ""), str(meta.get("name") or "")

    for body in sorted(rollouts, key=created):
        component = (body.get("spec") or {}).get("component")
        version = assignments_of(body).get(tenant)
        if component and version:
            out[str(component)] = version
    return out


def is_active(body: Mapping[str, Any]) -> bool:
    """Whether a rollout still runs: not Complete, not rolled back or aborted for good."""
    conditions = {c.get("type"): c for c in (body.get("status") or {}).get("conditions") or []}
    if (conditions.get(COMPLETE) or {}).get("status") == "True":
        return False
    failed = conditions.get(FAILED) or {}
    if failed.get("status") == "True" and failed.get("reason") == "RolledBack":
        return False
    return not (body.get("spec") or {}).get("abort")


@dataclass
class _Tenant:
    """A tenant's progress while a pass works on it (the API model is immutable)."""

    name: str
    wave: str = ""
    from_version: str = ""
    to_version: str = ""
    state: str = TenantState.PENDING.value
    reason: str = ""
    started_at: datetime | None = None

    @classmethod
    def of(cls, stored: TenantProgress) -> _Tenant:
        return cls(
            stored.name,
            stored.wave,
            stored.from_version,
            stored.to_version,
            stored.state,
            stored.reason,
            stored.started_at,
        )

    def model(self) -> TenantProgress:
        return TenantProgress(
            name=self.name,
            wave=self.wave,
            from_version=self.from_version,
            to_version=self.to_version,
            state=self.state,
            reason=self.reason[:512],
            started_at=self.started_at,
        )


@dataclass
class _Wave:
    """A wave's progress while a pass works on it."""

    name: str
    started_at: datetime | None = None
    healthy_since: datetime | None = None
    completed_at: datetime | None = None
    tenants: int = 0
    updated: int = 0
    ready: int = 0
    failed: int = 0

    @classmethod
    def of(cls, stored: WaveProgress) -> _Wave:
        return cls(stored.name, stored.started_at, stored.healthy_since, stored.completed_at)

    def model(self) -> WaveProgress:
        return WaveProgress(
            name=self.name,
            tenants=self.tenants,
            updated=self.updated,
            ready=self.ready,
            failed=self.failed,
            started_at=self.started_at,
            healthy_since=self.healthy_since,
            completed_at=self.completed_at,
        )


class _Pass:
    """One evaluation; methods share the working state."""

    def __init__(
        self,
        *,
        spec: ComponentRolloutSpec,
        waves: Sequence[WaveProgress],
        tenants: Sequence[TenantProgress],
        views: Sequence[TenantView],
        now: datetime,
        name: str,
    ) -> None:
        self.spec, self.now, self.name = spec, now, name
        self.views = {v.name: v for v in views}
        self.deadline = parse_duration(spec.progress_deadline)
        stored_waves = {w.name: w for w in waves}
        self.waves = [
            _Wave.of(stored_waves[w.name]) if w.name in stored_waves else _Wave(w.name)
            for w in spec.waves
        ]
        stored = {t.name: t for t in tenants}
        self.tenants = {
            name: self._place(view, stored.get(name)) for name, view in sorted(self.views.items())
        }
        self.events: list[tuple[str, str, bool]] = []
        self.rechecks: list[timedelta] = []

    def _place(self, view: TenantView, stored: TenantProgress | None) -> _Tenant:
        """The tenant's entry: kept as stored once moved; else (re)assessed."""
        if stored is not None and stored.state in {
            s.value for s in (*MOVED, TenantState.ROLLED_BACK)
        }:
            return _Tenant.of(stored)
        wave = next(
            (w.name for w in self.spec.waves if selects(w.tenant_selector, view.labels)), ""
        )
        installation = view.installation
        current = (installation.observed_version or installation.version) if installation else ""
        entry = _Tenant(
            name=view.name,
            wave=wave,
            from_version=(stored.from_version if stored else "") or current,
            to_version=self.spec.version,
        )
        state, reason = self._unmoved(view, wave, current)
        return self._set(entry, state, reason)

    def _unmoved(self, view: TenantView, wave: str, current: str) -> tuple[TenantState, str]:
        """Where a tenant the rollout has not moved stands, and why."""
        installation = view.installation
        skipped = (
            "upgradePolicy Pin: never moved"
            if view.policy is UpgradePolicy.PIN
            else f"its subscription pins {view.pinned}"
            if view.pinned
            else "no wave selects it"
            if not wave
            else ""
        )
        if skipped:
            return TenantState.SKIPPED, skipped
        if current == self.spec.version and installation and installation.runs_healthy(current):
            return TenantState.DONE, f"already runs {current}"
        if installation is None:
            return TenantState.PENDING, "not installed yet: it starts on the catalogue default"
        if view.policy is UpgradePolicy.APPROVE and not view.approved:
            return (
                TenantState.WAITING,
                "upgradePolicy Approve: add {name: "
                f"{self.name}, component: {self.spec.component}, version: {self.spec.version}"
                "} to its spec.approvedRollouts",
            )
        return TenantState.PENDING, "waiting for its turn"

    @staticmethod
    def _set(entry: _Tenant, state: TenantState, reason: str) -> _Tenant:
        entry.state, entry.reason = state.value, reason[:512]
        return entry

    def state(self, entry: _Tenant) -> TenantState:
        return TenantState(entry.state)

    def members(self, wave: str) -> list[_Tenant]:
        return [t for t in self.tenants.values() if t.wave == wave and t.state != "Skipped"]

    def watch_moved(self) -> None:
        """Move tenants along on what their installations actually run."""
        target = self.spec.version
        for entry in self.tenants.values():
            state = self.state(entry)
            if state not in MOVED or state is TenantState.DONE:
                continue
            installation = self.views[entry.name].installation
            healthy = installation is not None and installation.runs_healthy(target)
            if healthy:
                if state is not TenantState.BAKING:
                    self._set(entry, TenantState.BAKING, f"runs {target} Ready and Healthy")
                continue
            why = installation.message if installation else "no installation"
            started = entry.started_at or self.now
            if self.now - started >= self.deadline:
                if state is not TenantState.FAILED:
                    self.events.append(
                        (
                            "TenantFailed",
                            f"{entry.name}: not Ready and Healthy on {target} "
                            f"within {self.spec.progress_deadline}: {why}",
                            True,
                        )
                    )
                self._set(
                    entry,
                    TenantState.FAILED,
                    f"not Ready and Healthy within {self.spec.progress_deadline}: {why}",
                )
            else:
                self._set(entry, TenantState.UPDATING, f"moving to {target}: {why}")
                self.rechecks.append(started + self.deadline - self.now)

    def unbake(self) -> None:
        """A started wave that has not completed is baking only while every member that moved
        runs the target healthily: otherwise its bake starts over (healthySince cleared). The
        wave being advanced does this itself; a failed, paused or aborted rollout does not advance,
        and without this its status kept the bake of a wave whose tenant had since failed, as if
        it were about to complete."""
        for progress in self.waves:
            if progress.started_at is None or progress.completed_at is not None:
                continue
            moved = [t for t in self.members(progress.name) if t.state != TenantState.WAITING.value]
            if not all(self.state(t) in ON_TARGET for t in moved):
                progress.healthy_since = None

    def roll_back(self, reason: str) -> None:
        for entry in self.tenants.values():
            if self.state(entry) in MOVED and entry.from_version != self.spec.version:
                self._set(entry, TenantState.ROLLED_BACK, f"back to {entry.from_version}: {reason}")

    def start(self, wave: Wave, progress: _Wave) -> None:
        """Move pending tenants of a started wave, within maxParallel."""
        members = self.members(wave.name)
        counted = [t for t in members if t.state != TenantState.WAITING.value]
        limit = parallel_limit(wave, len(counted))
        updating = sum(1 for t in members if t.state == TenantState.UPDATING.value)
        for entry in members:
            if updating >= limit:
                break
            if entry.state == TenantState.PENDING.value and self.views[entry.name].installation:
                entry.started_at = self.now
                self._set(
                    entry,
                    TenantState.UPDATING,
                    f"moving {entry.from_version} -> {self.spec.version}",
                )
                updating += 1

    def advance(self) -> str | None:
        """Start and complete waves in order; the current wave's name, None when all are done."""
        for wave, progress in zip(self.spec.waves, self.waves, strict=True):
            if progress.started_at is not None:
                self.start(wave, progress)  # late approvals join even a completed wave
            if progress.completed_at is not None:
                continue
            if progress.started_at is None:
                if wave.require_approval and wave.name not in self.spec.approved_waves:
                    for entry in self.members(wave.name):
                        if entry.state == TenantState.PENDING.value:
                            entry.reason = f"wave {wave.name} waits for spec.approvedWaves"
                    return wave.name
                progress.started_at = self.now
                self.events.append(("WaveStarted", f"wave {wave.name} started", False))
                self.start(wave, progress)
            active = [t for t in self.members(wave.name) if t.state != TenantState.WAITING.value]
            if not all(self.state(t) in ON_TARGET for t in active):
                progress.healthy_since = None
                return wave.name
            progress.healthy_since = progress.healthy_since or self.now
            bake = parse_duration(wave.bake_time)
            if self.now - progress.healthy_since < bake:
                self.rechecks.append(progress.healthy_since + bake - self.now)
                return wave.name
            progress.completed_at = self.now
            for entry in active:
                if entry.state == TenantState.BAKING.value:
                    self._set(entry, TenantState.DONE, f"runs {self.spec.version}; wave baked")
            self.events.append(
                ("WaveCompleted", f"wave {wave.name} baked for {wave.bake_time}", False)
            )
        return None

    def counts(self) -> None:
        for progress in self.waves:
            members = self.members(progress.name)
            progress.tenants = len(members)
            progress.updated = sum(1 for t in members if self.state(t) in MOVED)
            progress.ready = sum(1 for t in members if self.state(t) in ON_TARGET)
            progress.failed = sum(1 for t in members if self.state(t) is TenantState.FAILED)

    def assignments(self) -> dict[str, str]:
        out = {}
        for entry in self.tenants.values():
            state = self.state(entry)
            if state in MOVED:
                out[entry.name] = self.spec.version
            elif state is TenantState.ROLLED_BACK and entry.from_version:
                out[entry.name] = entry.from_version
        return out


def step(
    *,
    name: str,
    spec: ComponentRolloutSpec,
    generation: int | None,
    conditions: Sequence[Condition],
    waves: Sequence[WaveProgress],
    tenants: Sequence[TenantProgress],
    views: Sequence[TenantView],
    now: datetime,
) -> RolloutStep:
    """One pass of the rollout engine."""
    run = _Pass(spec=spec, waves=waves, tenants=tenants, views=views, now=now, name=name)
    was = {c.type: c for c in conditions}
    before = was.get(FAILED)
    final_rollback = (
        before is not None and before.status == "True" and before.reason == "RolledBack"
    )
    current: str | None = None
    if spec.abort or final_rollback:
        if spec.abort and not (was.get(PROGRESSING) and was[PROGRESSING].reason == "Aborted"):
            run.roll_back("the rollout was aborted")
            run.events.append(
                ("Aborted", "aborted; moved tenants return to their previous version", True)
            )
        verdict = _verdict("Aborted" if spec.abort else "RolledBack", run, was)
    else:
        run.watch_moved()
        failed = [t for t in run.tenants.values() if run.state(t) is TenantState.FAILED]
        if failed and spec.failure_policy is FailurePolicy.ROLLBACK:
            names = ", ".join(t.name for t in failed)
            run.roll_back(f"{names} failed")
            run.events.append(
                (
                    "RolledBack",
                    f"{names} failed; moved tenants return to their previous version",
                    True,
                )
            )
            verdict = _verdict("RolledBack", run, was)
        elif failed:
            verdict = _verdict("TenantFailed", run, was)
        elif spec.paused:
            verdict = _verdict("Paused", run, was)
        else:
            current = run.advance()
            verdict = _verdict("Complete" if current is None else "Progressing", run, was, current)
    run.unbake()
    run.counts()
    new_conditions = list(conditions)
    for type_, (status, reason, message) in verdict.items():
        new_conditions = set_condition(
            new_conditions,
            type_=type_,
            status=status,
            reason=reason,
            message=message,
            generation=generation,
            now=now,
        )
    _transition_events(run, was, verdict)
    listed = [t for t in run.tenants.values() if t.state != TenantState.SKIPPED.value]
    on_target = sum(1 for t in listed if run.state(t) in ON_TARGET)
    positive = [d for d in run.rechecks if d > timedelta(0)]
    return RolloutStep(
        conditions=new_conditions,
        waves=[w.model() for w in run.waves],
        tenants=[t.model() for t in run.tenants.values()],
        current_wave=current,
        progress=f"{on_target}/{len(listed)}",
        assignments=run.assignments(),
        events=run.events,
        recheck=min(positive) if positive else None,
    )


def _verdict(
    outcome: str, run: _Pass, was: Mapping[str, Condition], current: str | None = None
) -> dict[str, tuple[Status, str, str]]:
    """Ready, Progressing, Paused, Complete and Failed for an outcome (kstatus style)."""
    failed = [t for t in run.tenants.values() if run.state(t) is TenantState.FAILED]
    why = "; ".join(f"{t.name}: {t.reason}" for t in failed[:5])
    rolled = [t.name for t in run.tenants.values() if run.state(t) is TenantState.ROLLED_BACK]
    no: Status = "False"
    yes: Status = "True"
    table: dict[str, dict[str, tuple[Status, str, str]]] = {
        "Complete": {
            PROGRESSING: (no, "Complete", "every wave baked"),
            PAUSED: (no, "NotPaused", "not paused"),
            COMPLETE: (yes, "AllWavesBaked", f"every wave runs {run.spec.version}"),
            FAILED: (no, "NoFailures", "no tenant failed"),
        },
        "Progressing": {
            PROGRESSING: (yes, "WaveInProgress", f"wave {current} in progress"),
            PAUSED: (no, "NotPaused", "not paused"),
            COMPLETE: (no, "WavesRemaining", f"wave {current} in progress"),
            FAILED: (no, "NoFailures", "no tenant failed"),
        },
        "Paused": {
            PROGRESSING: (no, "Paused", "spec.paused: no wave or tenant starts"),
            PAUSED: (yes, "PausedBySpec", "spec.paused is true; updates under way finish"),
            COMPLETE: (no, "Paused", "paused"),
            FAILED: (no, "NoFailures", "no tenant failed"),
        },
        "TenantFailed": {
            PROGRESSING: (no, "TenantFailed", f"stopped: {why}"),
            PAUSED: (yes, "TenantFailed", f"failurePolicy Pause: stopped after {why}"),
            COMPLETE: (no, "TenantFailed", "stopped"),
            FAILED: (yes, "TenantFailed", why),
        },
        "RolledBack": {
            PROGRESSING: (no, "RolledBack", "rolled back"),
            PAUSED: (no, "NotPaused", "not paused"),
            COMPLETE: (no, "RolledBack", "rolled back"),
            FAILED: (
                yes,
                "RolledBack",
                f"rolled back {', '.join(rolled) or 'no tenant'}"
                + (f" after: {why}" if why else ""),
            ),
        },
        "Aborted": {
            PROGRESSING: (no, "Aborted", "spec.abort: stopped for good"),
            PAUSED: (no, "NotPaused", "not paused"),
            COMPLETE: (no, "Aborted", "aborted"),
            FAILED: (no, "Aborted", f"aborted; rolled back {', '.join(rolled) or 'no tenant'}"),
        },
    }
    verdict = dict(table[outcome])
    ready_status: Status = yes if outcome == "Complete" else no
    if outcome == "Complete":
        verdict[READY] = (ready_status, "Complete", verdict[COMPLETE][2])
    else:
        verdict[READY] = (ready_status, verdict[PROGRESSING][1], verdict[PROGRESSING][2])
    return verdict


def _transition_events(
    run: _Pass, was: Mapping[str, Condition], verdict: Mapping[str, tuple[Status, str, str]]
) -> None:
    def became(type_: str) -> bool:
        before = was.get(type_)
        return verdict[type_][0] == "True" and (before is None or before.status != "True")

    if became(PAUSED) and verdict[PAUSED][1] == "PausedBySpec":
        run.events.append(("Paused", "paused by spec.paused", False))
    if became(COMPLETE):
        run.events.append(("Completed", f"every wave runs {run.spec.version}", False))
