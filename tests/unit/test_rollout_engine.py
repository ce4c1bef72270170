"""The rollout engine, driven against a simulated fleet on a simulated clock: wave order,
maxParallel, bake times, approvals, pins, failures (pause or rollback), pause, abort and
resuming from stored progress."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cg_operator.api.base import Condition
from cg_operator.api.rollout import ComponentRolloutSpec, TenantProgress, WaveProgress
from cg_operator.api.tenant import ApprovedRollout, UpgradePolicy
from cg_operator.reconcile.rollout import (
    InstallationView,
    RolloutStep,
    TenantView,
    assignments_for,
    is_active,
    parallel_limit,
    parse_duration,
    step,
)

T0 = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
RING = "appstore.commonground.nl/ring"
OLD, NEW = "1.29.1", "1.30.0"


def rollout_spec(**overrides: Any) -> ComponentRolloutSpec:
    spec: dict[str, Any] = {
        "component": "open-zaak",
        "version": NEW,
        "waves": [
            {
                "name": "koplopers",
                "tenantSelector": {"matchLabels": {RING: "koploper"}},
                "maxParallel": 1,
                "bakeTime": "10m",
            },
            {
                "name": "vroege-volgers",
                "tenantSelector": {"matchLabels": {RING: "vroege-volger"}},
                "maxParallel": "50%",
                "bakeTime": "10m",
            },
            {
                "name": "volgers",
                "tenantSelector": {"matchLabels": {RING: "volger"}},
                "maxParallel": 2,
                "bakeTime": "10m",
            },
        ],
        "progressDeadline": "15m",
    }
    spec.update(overrides)
    return ComponentRolloutSpec.model_validate(spec)


@dataclass
class Fleet:
    """Installations that take `takes` to run a newly assigned version (or never, if broken)."""

    tenants: dict[str, str]  # name -> ring
    policies: dict[str, UpgradePolicy] = field(default_factory=dict)
    pins: dict[str, str] = field(default_factory=dict)
    approved: set[str] = field(default_factory=set)
    broken: set[str] = field(default_factory=set)
    takes: timedelta = timedelta(minutes=2)
    running: dict[str, InstallationView] = field(default_factory=dict)
    asked_at: dict[str, datetime] = field(default_factory=dict)
    moves: list[tuple[datetime, str, str]] = field(default_factory=list)
    peak: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in self.tenants:
            self.running[name] = InstallationView(OLD, OLD, 1, True, "True", 1, OLD)

    def views(self) -> list[TenantView]:
        return [
            TenantView(
                name=name,
                labels={RING: ring},
                policy=self.policies.get(name, UpgradePolicy.AUTO),
                approved=name in self.approved,
                pinned=self.pins.get(name),
                installation=self.running[name],
            )
            for name, ring in self.tenants.items()
        ]

    def follow(self, assignments: dict[str, str], now: datetime) -> None:
        """The tenant reconcilers: apply assignments; installations converge after `takes`."""
        for name, current in list(self.running.items()):
            wanted = assignments.get(name, OLD)
            if wanted != current.version:
                generation = current.generation + 1
                self.running[name] = InstallationView(
                    wanted, current.observed_version, generation, False, "Unknown", generation, None
                )
                self.asked_at[name] = now
                self.moves.append((now, name, wanted))
            elif (
                not current.ready
                and name not in self.broken
                and now - self.asked_at[name] >= self.takes
            ):
                self.running[name] = replace(
                    current,
                    observed_version=wanted,
                    ready=True,
                    healthy="True",
                    probe_version=wanted,
                )


@dataclass
class Run:
    spec: ComponentRolloutSpec
    conditions: list[Condition] = field(default_factory=list)
    waves: list[WaveProgress] = field(default_factory=list)
    tenants: list[TenantProgress] = field(default_factory=list)
    events: list[tuple[datetime, str, str]] = field(default_factory=list)
    last: RolloutStep | None = None

    def once(self, fleet: Fleet, now: datetime) -> RolloutStep:
        result = step(
            name="open-zaak-1-30",
            spec=self.spec,
            generation=1,
            conditions=self.conditions,
            waves=self.waves,
            tenants=self.tenants,
            views=fleet.views(),
            now=now,
        )
        self.conditions, self.waves, self.tenants = result.conditions, result.waves, result.tenants
        self.events += [(now, reason, message) for reason, message, _warning in result.events]
        self.last = result
        updating: dict[str, int] = {}
        for t in result.tenants:
            if t.state == "Updating":
                updating[t.wave] = updating.get(t.wave, 0) + 1
        for wave, count in updating.items():
            fleet.peak[wave] = max(fleet.peak.get(wave, 0), count)
        fleet.follow(result.assignments, now)
        return result

    def until(self, fleet: Fleet, done: Any, limit: timedelta = timedelta(hours=4)) -> datetime:
        now = T0
        while now < T0 + limit:
            self.once(fleet, now)
            if done(self):
                return now
            now += timedelta(seconds=30)
        raise AssertionError(f"not done after {limit}: {self.conditions}")

    def condition(self, type_: str) -> Condition:
        found = next((c for c in self.conditions if c.type == type_), None)
        assert found is not None, type_
        return found

    def state_of(self, tenant: str) -> str:
        return next(t.state for t in self.tenants if t.name == tenant)


def twelve() -> dict[str, str]:
    rings = ["koploper"] * 2 + ["vroege-volger"] * 4 + ["volger"] * 6
    return {f"t{n:02d}": ring for n, ring in enumerate(rings)}


def complete(run: Run) -> bool:
    return any(c.type == "Complete" and c.status == "True" for c in run.conditions)


def test_waves_run_in_order_within_max_parallel_and_after_their_bake_time() -> None:
    fleet = Fleet(twelve())
    run = Run(rollout_spec())
    run.until(fleet, complete)
    order = [name for _at, name, version in fleet.moves if version == NEW]
    rings = [fleet.tenants[name] for name in order]
    assert rings == sorted(rings, key=["koploper", "vroege-volger", "volger"].index)
    assert len(order) == 12
    assert fleet.peak == {"koplopers": 1, "vroege-volgers": 2, "volgers": 2}
    started = {m.split()[1]: at for at, reason, m in run.events if reason == "WaveStarted"}
    baked = {m.split()[1]: at for at, reason, m in run.events if reason == "WaveCompleted"}
    for wave, previous in (("vroege-volgers", "koplopers"), ("volgers", "vroege-volgers")):
        healthy_since = baked[previous] - timedelta(minutes=10)
        assert started[wave] >= healthy_since + timedelta(minutes=10)
        assert started[wave] == baked[previous]  # the next wave starts in the same pass
    assert run.condition("Ready").status == "True"
    assert run.last is not None
    assert run.last.progress == "12/12"
    assert all(t.state == "Done" for t in run.tenants)
    assert {w.name: (w.tenants, w.ready) for w in run.waves} == {
        "koplopers": (2, 2),
        "vroege-volgers": (4, 4),
        "volgers": (6, 6),
    }


def test_health_from_before_the_change_does_not_count() -> None:
    view = InstallationView(NEW, OLD, 2, True, "True", 1, OLD)
    assert not view.runs_healthy(NEW)  # Healthy computed for the old generation
    assert not replace(view, observed_version=NEW, healthy_generation=2).runs_healthy(NEW)
    assert replace(
        view, observed_version=NEW, healthy_generation=2, probe_version=NEW
    ).runs_healthy(NEW)
    # Workload-only health (probe skipped) has no probe version to check.
    assert InstallationView(NEW, NEW, 2, True, "True", 2, None).runs_healthy(NEW)


def test_an_approval_gate_holds_the_wave_until_approved() -> None:
    spec = rollout_spec()
    waves = spec.model_dump(by_alias=True)["waves"]
    waves[1]["requireApproval"] = True
    run = Run(rollout_spec(waves=waves))
    fleet = Fleet(twelve())
    now = run.until(fleet, lambda r: r.last is not None and r.last.current_wave == "vroege-volgers")
    for _ in range(20):
        now += timedelta(minutes=5)
        run.once(fleet, now)
    assert {name for _at, name, v in fleet.moves if v == NEW} == {"t00", "t01"}
    assert run.condition("Progressing").reason == "WaveInProgress"
    assert all("approvedWaves" in t.reason for t in run.tenants if t.wave == "vroege-volgers")
    run.spec = rollout_spec(waves=waves, approvedWaves=["vroege-volgers"])
    run.once(fleet, now + timedelta(seconds=30))
    assert any(t.state == "Updating" and t.wave == "vroege-volgers" for t in run.tenants)


def test_pinned_and_unmatched_tenants_are_listed_and_never_moved() -> None:
    tenants = {**twelve(), "t-pinned": "volger", "t-sub-pin": "volger", "t-lab": "lab"}
    fleet = Fleet(tenants, policies={"t-pinned": UpgradePolicy.PIN}, pins={"t-sub-pin": OLD})
    run = Run(rollout_spec())
    run.until(fleet, complete)
    moved = {name for _at, name, _v in fleet.moves}
    assert not moved & {"t-pinned", "t-sub-pin", "t-lab"}
    reasons = {t.name: (t.state, t.reason) for t in run.tenants}
    assert reasons["t-pinned"] == ("Skipped", "upgradePolicy Pin: never moved")
    assert reasons["t-sub-pin"] == ("Skipped", f"its subscription pins {OLD}")
    assert reasons["t-lab"] == ("Skipped", "no wave selects it")


def test_approve_tenants_wait_for_their_own_approval() -> None:
    fleet = Fleet(twelve(), policies={"t06": UpgradePolicy.APPROVE})
    run = Run(rollout_spec())
    now = run.until(fleet, complete)
    assert run.state_of("t06") == "WaitingForApproval"
    assert "t06" not in {name for _at, name, _v in fleet.moves}
    fleet.approved.add("t06")
    run.once(fleet, now + timedelta(seconds=30))
    assert run.state_of("t06") == "Updating"


def failing_fleet() -> Fleet:
    return Fleet(twelve(), broken={"t03"})


def test_a_failure_pauses_the_rollout_and_names_the_tenant() -> None:
    fleet = failing_fleet()
    run = Run(rollout_spec())
    now = run.until(
        fleet, lambda r: r.condition("Failed").status == "True" if r.conditions else False
    )
    failed = run.condition("Failed")
    assert failed.reason == "TenantFailed"
    assert "t03" in failed.message
    assert run.condition("Paused").status == "True"
    moved_before = list(fleet.moves)
    for _ in range(10):
        now += timedelta(minutes=5)
        run.once(fleet, now)
    started_after = [m for m in fleet.moves[len(moved_before) :] if m[2] == NEW]
    assert started_after == []  # nothing new starts while a tenant is failed
    assert run.state_of("t03") == "Failed"


def test_a_baking_wave_whose_tenant_fails_is_no_longer_baking() -> None:
    """The pause a failure brings stops the waves, and the failed wave's bake with them: its
    status must not keep saying it has been healthy since before the failure."""
    fleet = Fleet(twelve())
    spec = rollout_spec()
    # Baking longer than the progress deadline, as the example rollout does (30m, 15m).
    longer = spec.waves[0].model_copy(update={"bake_time": "30m"})
    run = Run(spec.model_copy(update={"waves": [longer, *spec.waves[1:]]}))

    def baking(r: Run) -> bool:
        return any(w.name == "koplopers" and w.healthy_since for w in r.waves)

    now = run.until(fleet, baking)
    # The next pass comes after the deadline (an operator that was down, or a new one) and
    # finds a koploper unhealthy: it fails at once, and the failure pauses the rollout.
    fleet.running["t00"] = replace(fleet.running["t00"], healthy="False")
    fleet.broken.add("t00")
    now += timedelta(minutes=20)
    run.once(fleet, now)
    assert run.condition("Failed").reason == "TenantFailed"
    (koplopers,) = [w for w in run.waves if w.name == "koplopers"]
    assert koplopers.completed_at is None
    assert koplopers.healthy_since is None, "not baking while a member has failed"


def test_a_failure_with_rollback_returns_exactly_the_tenants_moved() -> None:
    fleet = failing_fleet()
    run = Run(rollout_spec(failurePolicy="Rollback"))
    run.until(fleet, lambda r: r.condition("Failed").status == "True" if r.conditions else False)
    moved = {name for _at, name, v in fleet.moves if v == NEW}
    assert moved >= {"t00", "t01", "t03"}
    rolled = {t.name for t in run.tenants if t.state == "RolledBack"}
    assert rolled == moved
    assert run.last is not None
    assert run.last.assignments == dict.fromkeys(moved, OLD)
    assert run.condition("Failed").reason == "RolledBack"
    assert all(fleet.running[name].version == OLD for name in moved)
    before = len(fleet.moves)
    run.once(fleet, T0 + timedelta(hours=5))
    assert len(fleet.moves) == before  # final: nothing moves again


def test_pause_stops_new_starts_and_lets_updates_under_way_finish() -> None:
    fleet = Fleet(twelve())
    run = Run(rollout_spec())
    run.once(fleet, T0)
    assert run.state_of("t00") == "Updating"
    run.spec = rollout_spec(paused=True)
    now = T0
    for _ in range(60):
        now += timedelta(minutes=1)
        run.once(fleet, now)
    assert run.state_of("t00") == "Baking"
    assert run.state_of("t01") == "Pending"
    assert run.condition("Paused").status == "True"
    assert run.condition("Progressing").status == "False"
    run.spec = rollout_spec()
    run.once(fleet, now + timedelta(seconds=30))
    assert run.condition("Paused").status == "False"


def test_abort_returns_every_moved_tenant() -> None:
    fleet = Fleet(twelve())
    run = Run(rollout_spec())
    now = run.until(fleet, lambda r: r.last is not None and r.last.current_wave == "vroege-volgers")
    run.spec = rollout_spec(abort=True)
    run.once(fleet, now + timedelta(seconds=30))
    assert {t.name for t in run.tenants if t.state == "RolledBack"} == {"t00", "t01"} | {
        t.name for t in run.tenants if t.wave == "vroege-volgers" and t.started_at
    }
    assert run.condition("Progressing").reason == "Aborted"
    assert not is_active(
        {"spec": {"abort": True}, "status": {"conditions": [c.wire() for c in run.conditions]}}
    )


def test_resuming_from_stored_progress_neither_repeats_nor_skips_a_wave() -> None:
    fleet = Fleet(twelve())
    run = Run(rollout_spec())
    now = run.until(fleet, lambda r: r.last is not None and r.last.current_wave == "vroege-volgers")
    # A new process: only what status stored (round-tripped through the wire format).
    resumed = Run(
        run.spec,
        conditions=[Condition.model_validate(c.wire()) for c in run.conditions],
        waves=[WaveProgress.model_validate(w.wire()) for w in run.waves],
        tenants=[TenantProgress.model_validate(t.wire()) for t in run.tenants],
    )
    resumed.until(fleet, complete)
    started = [m for _at, reason, m in resumed.events if reason == "WaveStarted"]
    assert started == ["wave volgers started"]
    assert len({name for _at, name, v in fleet.moves if v == NEW}) == 12
    del now


def test_max_parallel_as_a_percentage_rounds_down_but_never_below_one() -> None:
    waves = rollout_spec().waves
    assert parallel_limit(waves[1], 4) == 2  # 50% of 4
    assert parallel_limit(waves[1], 1) == 1
    assert parallel_limit(waves[2], 6) == 2


@pytest.mark.parametrize(
    ("text", "seconds"), [("90s", 90), ("1h30m", 5400), ("1.5h", 5400), ("250ms", 0.25)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text).total_seconds() == seconds


def test_the_newest_rollout_decides_a_tenants_version() -> None:
    first = {
        "metadata": {"name": "a", "creationTimestamp": "2026-11-01T00:00:00Z"},
        "spec": {"component": "open-zaak"},
        "status": {"tenants": [{"name": "t1", "from": "1.28", "to": "1.29", "state": "Done"}]},
    }
    second = {
        "metadata": {"name": "b", "creationTimestamp": "2026-11-20T00:00:00Z"},
        "spec": {"component": "open-zaak"},
        "status": {"tenants": [{"name": "t1", "from": "1.29", "to": "1.30", "state": "Updating"}]},
    }
    assert assignments_for("t1", [second, first]) == {"open-zaak": "1.30"}
    rolled = {
        **second,
        "status": {"tenants": [{**second["status"]["tenants"][0], "state": "RolledBack"}]},
    }
    assert assignments_for("t1", [first, rolled]) == {"open-zaak": "1.29"}
    assert assignments_for("t2", [first, second]) == {}


def test_a_tenant_is_moved_only_once_installed_so_its_previous_version_is_known() -> None:
    fleet = Fleet({"t00": "koploper", "t01": "koploper"})
    del fleet.running["t01"]
    views = [
        v if v.name != "t01" else replace(v, installation=None)
        for v in Fleet({"t00": "koploper", "t01": "koploper"}).views()
    ]
    result = step(
        name="r",
        spec=rollout_spec(
            waves=[{**rollout_spec().model_dump(by_alias=True)["waves"][0], "maxParallel": 2}]
        ),
        generation=1,
        conditions=[],
        waves=[],
        tenants=[],
        views=views,
        now=T0,
    )
    states = {t.name: (t.state, t.from_version) for t in result.tenants}
    assert states == {"t00": ("Updating", OLD), "t01": ("Pending", "")}
    assert result.assignments == {"t00": NEW}


def test_an_approval_covers_one_rollout_of_one_component_to_one_version() -> None:
    approval = ApprovedRollout(name="oz-130", component="open-zaak", version="1.30.0")
    assert approval.approves("oz-130", "open-zaak", "1.30.0")
    # Deleted and created again under the same name with another target: not approved.
    assert not approval.approves("oz-130", "open-zaak", "1.31.0")
    assert not approval.approves("oz-130", "open-notificaties", "1.30.0")
    assert not approval.approves("oz-131", "open-zaak", "1.30.0")
