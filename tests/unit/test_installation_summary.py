"""An installation's verdicts, decided purely: what may be deployed while it waits, when it is
Ready and why, its conditions, the events its transitions deserve, and what happens to data."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from cg_operator.api.component import OfferingType
from cg_operator.api.conditions import READY, RECONCILING, STALLED, find, set_condition
from cg_operator.api.refs import Ref
from cg_operator.api.tenant import DeletionPolicy
from cg_operator.reconcile.configuration import CONFIGURED
from cg_operator.reconcile.delivery.base import Dependencies, InstallationPlan, Readiness
from cg_operator.reconcile.health import HEALTHY, Verdict
from cg_operator.reconcile.installation_summary import (
    DEPENDENCIES_READY,
    deployable,
    readiness,
    summarize,
    transition_events,
    workloads_state,
)
from cg_operator.reconcile.retention import dispose, is_data

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
NS = "gm0363-amsterdam"
ALL_READY = Dependencies(True)
WAITING = Dependencies(False, "DependencyNotReady", "waiting for open-notificaties")
MISSING = Dependencies(False, "MissingDependency", "requires objecttypen")
HEALTHY_VERDICT = Verdict("True", "ProbeSucceeded", "200 in 3 ms")


def plan(
    delivery: OfferingType = OfferingType.CONTAINER,
    dependencies: Dependencies = ALL_READY,
    missing: list[str] | None = None,
) -> InstallationPlan:
    return InstallationPlan(
        delivery,
        children=[],
        data=[],
        dependencies=dependencies,
        endpoint="http://open-zaak.gm0363-amsterdam.svc.cluster.local/",
        binding_secret="open-zaak-binding",  # noqa: S106 - a Secret's name
        missing=missing or [],
    )


def obj(kind: str, name: str, **status: Any) -> dict[str, Any]:
    api = "apps/v1" if kind in {"Deployment", "StatefulSet"} else "v1"
    return {
        "apiVersion": api,
        "kind": kind,
        "metadata": {"name": name, "namespace": NS, "generation": 1},
        "spec": {"replicas": 1},
        "status": {"observedGeneration": 1, **status},
    }


def lookup(*live: dict[str, Any]) -> Any:
    stored = {Ref.of(o): o for o in live}

    def get(ref: Ref) -> Mapping[str, Any] | None:
        return stored.get(ref)

    return get


AVAILABLE = {"updatedReplicas": 1, "availableReplicas": 1, "replicas": 1}


def test_while_a_dependency_waits_new_workloads_are_held_and_running_ones_kept() -> None:
    running, new = obj("Deployment", "open-zaak"), obj("Deployment", "open-zaak-worker")
    config = obj("ConfigMap", "open-zaak-config")
    desired = [config, running, new]
    assert deployable(desired, plan(dependencies=WAITING), lookup(running)) == [config, running]
    assert deployable(desired, plan(missing=["Secret x"]), lookup()) == [config]
    assert deployable(desired, plan(), lookup()) == desired


def test_workloads_report_the_first_that_is_not_available() -> None:
    web = obj("Deployment", "open-zaak", **AVAILABLE)
    worker = obj("Deployment", "open-zaak-worker", updatedReplicas=1, replicas=1)
    assert workloads_state([web], lookup(web)) == (True, "every workload is available")
    available, why = workloads_state([web, worker], lookup(web, worker))
    assert not available
    assert why == "Deployment open-zaak-worker: 0/1 ready"


@pytest.mark.parametrize(
    ("the_plan", "wrote", "workloads", "expected"),
    [
        (plan(dependencies=WAITING), False, (True, ""), (False, "DependencyNotReady")),
        (
            plan(missing=["Secret kiss-oidc has no key secret"]),
            False,
            (True, ""),
            (False, "MissingSecret"),
        ),
        (plan(), True, (True, ""), (False, "Progressing")),
        (plan(), False, (False, "0/1 ready"), (False, "Progressing")),
        (plan(), False, (True, "every workload is available"), (True, "Available")),
        # A binding is Ready once written: the supplier's health is the Healthy condition's.
        (plan(OfferingType.SAAS), False, (False, "n/a"), (True, "BindingReady")),
        (plan(OfferingType.SAAS), True, (True, ""), (False, "Progressing")),
    ],
)
def test_readiness_first_reason_wins(
    the_plan: InstallationPlan,
    wrote: bool,
    workloads: tuple[bool, str],
    expected: tuple[bool, str],
) -> None:
    verdict = readiness(the_plan, wrote=wrote, workloads=workloads)
    assert (verdict.ready, verdict.reason) == expected


def test_a_missing_secret_names_what_is_missing() -> None:
    verdict = readiness(plan(missing=["a", "b"]), wrote=False, workloads=(True, ""))
    assert verdict.message == "a; b"


def test_summarize_sets_every_condition_and_clears_stalled() -> None:
    stalled = set_condition(
        [], type_=STALLED, status="True", reason="InvalidSpec", message="x", generation=1, now=NOW
    )
    conditions = summarize(
        stalled,
        plan=plan(),
        ready=Readiness(True, "Available", "every workload is available"),
        health=HEALTHY_VERDICT,
        generation=2,
        now=NOW,
    )
    assert {c.type: c.status for c in conditions} == {
        DEPENDENCIES_READY: "True",
        READY: "True",
        HEALTHY: "True",
    }
    assert all(c.observed_generation == 2 for c in conditions)


def test_reconciling_is_set_while_it_works_towards_ready_not_when_a_person_must_act() -> None:
    working = summarize(
        [],
        plan=plan(dependencies=WAITING),
        ready=Readiness(False, "DependencyNotReady", "waiting"),
        health=HEALTHY_VERDICT,
        generation=1,
        now=NOW,
    )
    assert find(working, RECONCILING) is not None
    stuck = summarize(
        working,
        plan=plan(dependencies=MISSING),
        ready=Readiness(False, "MissingDependency", "requires objecttypen"),
        health=HEALTHY_VERDICT,
        generation=1,
        now=NOW,
    )
    assert find(stuck, RECONCILING) is None


def test_an_unchanged_verdict_keeps_every_condition_as_it_was() -> None:
    # Same conditions on the next pass: no status write while nothing changes.
    later = datetime(2026, 12, 2, 13, 0, tzinfo=UTC)
    verdict = {
        "plan": plan(dependencies=WAITING),
        "ready": Readiness(False, "DependencyNotReady", "waiting"),
        "health": HEALTHY_VERDICT,
        "generation": 1,
    }
    first = summarize([], now=NOW, **verdict)  # type: ignore[arg-type]
    assert summarize(first, now=later, **verdict) == first  # type: ignore[arg-type]


def conditions_of(
    ready: str, healthy: str, deps_reason: str = "AllDependenciesReady", message: str = "x"
) -> Any:
    out: list[Any] = []
    for type_, status, reason, text in (
        (READY, ready, "x", "x"),
        (HEALTHY, healthy, "x", message),
        (
            DEPENDENCIES_READY,
            "True" if deps_reason.startswith("All") else "False",
            deps_reason,
            deps_reason,
        ),
    ):
        out = set_condition(
            out, type_=type_, status=status, reason=reason, message=text, generation=1, now=NOW
        )
    return out


def wire(conditions: Any, version: str | None = None) -> dict[str, Any]:
    status: dict[str, Any] = {"conditions": [c.wire() for c in conditions]}
    if version:
        status["observedVersion"] = version
    return status


def reasons(before: dict[str, Any], after: Any, version: str = "1.30.0") -> list[str]:
    events = transition_events(before, after, component="open-zaak", version=version, plan=plan())
    return [e.reason for e in events]


def test_events_mark_transitions_only() -> None:
    ready = conditions_of("True", "True")
    assert reasons({}, ready) == ["Installed"]
    assert reasons(wire(conditions_of("False", "True"), "1.29.0"), ready) == ["Upgraded"]
    assert reasons(wire(ready, "1.30.0"), ready) == []
    assert reasons(wire(ready, "1.30.0"), conditions_of("True", "False")) == ["Unhealthy"]
    assert reasons(wire(conditions_of("True", "False"), "1.30.0"), ready) == ["Recovered"]
    missing = conditions_of("False", "Unknown", "MissingDependency")
    assert reasons(wire(ready, "1.30.0"), missing) == ["MissingDependency"]
    assert reasons(wire(missing, "1.30.0"), missing) == []
    # An upgrade done within the status window never stored Ready=False: it is still one.
    assert reasons(wire(ready, "1.29.0"), ready) == ["Upgraded"]


def test_configured_in_the_pass_that_turns_it_ready_is_said_by_one_event() -> None:
    configured = set_condition(
        conditions_of("True", "True"),
        type_=CONFIGURED,
        status="True",
        reason=CONFIGURED,
        message="the configuration Job open-zaak-configure-1a2b succeeded",
        generation=1,
        now=NOW,
    )
    (installed,) = transition_events(
        {}, configured, component="open-zaak", version="1.30.0", plan=plan()
    )
    assert installed.reason == "Installed"
    assert installed.message.startswith("open-zaak 1.30.0 is Ready")
    assert installed.message.endswith("; the configuration Job open-zaak-configure-1a2b succeeded")
    # Configured on its own (a configuration that changed while it stayed Ready) stays its own.
    alone = transition_events(
        wire(conditions_of("True", "True"), "1.30.0"),
        configured,
        component="open-zaak",
        version="1.30.0",
        plan=plan(),
    )
    assert [e.reason for e in alone] == [CONFIGURED]
    assert (
        transition_events(
            wire(configured, "1.30.0"),
            configured,
            component="open-zaak",
            version="1.30.0",
            plan=plan(),
        )
        == []
    ), "the same Job is said once"


def test_an_upgrade_done_within_the_window_says_both_in_one_event() -> None:
    """The stored status is Ready and Configured at 1.29.0 (the old Job); the pass that finds
    1.30.0 Ready with its own Job succeeded writes once and posts one Upgraded event that says
    the new configuration ran."""

    def configured_by(job: str) -> Any:
        return set_condition(
            conditions_of("True", "True"),
            type_=CONFIGURED,
            status="True",
            reason=CONFIGURED,
            message=f"the configuration Job {job} succeeded",
            generation=1,
            now=NOW,
        )

    (upgraded,) = transition_events(
        wire(configured_by("open-zaak-configure-1"), "1.29.0"),
        configured_by("open-zaak-configure-2"),
        component="open-zaak",
        version="1.30.0",
        plan=plan(),
    )
    assert upgraded.reason == "Upgraded"
    assert upgraded.message == (
        "upgraded 1.29.0 -> 1.30.0; the configuration Job open-zaak-configure-2 succeeded"
    )


def test_an_unhealthy_or_missing_dependency_event_is_a_warning() -> None:
    events = transition_events(
        wire(conditions_of("True", "True"), "1.30.0"),
        conditions_of("False", "False", "MissingDependency"),
        component="open-zaak",
        version="1.30.0",
        plan=plan(),
    )
    assert [e.warning for e in events] == [True, True]


def test_health_flapping_counts_on_one_event_per_reason_and_upgrades_stay_apart() -> None:
    """Someone fighting the operator makes health flap: each flap counts on the one Unhealthy
    (or Recovered) Event, whatever its message; each upgrade is its own Event."""
    ready = conditions_of("True", "True")
    unhealthy = [
        transition_events(
            wire(ready, "1.30.0"),
            conditions_of("True", "False", message=text),
            component="open-zaak",
            version="1.30.0",
            plan=plan(),
        )[0]
        for text in ("0/3 available", "1/3 available")
    ]
    assert {e.key for e in unhealthy} == {"Unhealthy"}
    upgrades = [
        transition_events(
            wire(conditions_of("False", "True"), old),
            ready,
            component="open-zaak",
            version=new,
            plan=plan(),
        )[0]
        for old, new in (("1.29.0", "1.30.0"), ("1.30.0", "1.31.0"))
    ]
    assert len({e.key for e in upgrades}) == 2


def secret(name: str) -> Ref:
    return Ref("v1", "Secret", NS, name)


CLAIM = Ref("v1", "PersistentVolumeClaim", NS, "open-zaak-media")
DEPLOYMENT = Ref("apps/v1", "Deployment", NS, "open-zaak")


def test_data_is_claims_and_the_secrets_of_services_and_generated_settings() -> None:
    assert is_data(CLAIM)
    assert is_data(secret("open-zaak-postgresql"))
    assert is_data(secret("open-zaak-secrets"))
    assert not is_data(secret("open-zaak-binding"))
    assert not is_data(DEPLOYMENT)


def test_data_no_longer_wanted_is_retained_unless_the_policy_is_delete() -> None:
    unwanted = [DEPLOYMENT, CLAIM, secret("open-zaak-postgresql"), secret("open-zaak-binding")]
    kept = dispose(unwanted, DeletionPolicy.RETAIN)
    assert kept.retain == sorted([CLAIM, secret("open-zaak-postgresql")])
    assert kept.delete == sorted([DEPLOYMENT, secret("open-zaak-binding")])
    gone = dispose(unwanted, DeletionPolicy.DELETE)
    assert (gone.retain, gone.delete) == ([], sorted(unwanted))


def test_an_unreadable_policy_never_deletes_data() -> None:
    assert dispose([CLAIM], "Purge").retain == [CLAIM]
    other = secret("keycloak-admin")
    assert dispose([other], "Retain", known_data=[other]).retain == [other]
