"""Progress-only status changes (an installation's steps, a tenant's summary of them) are held
per object so that the steps of one change share a write; what a rollout, a summary or a person
waits for is written at once."""

from __future__ import annotations

from typing import Any

import pytest

from cg_operator.api.base import Condition
from cg_operator.api.refs import Ref
from cg_operator.handlers import installation
from cg_operator.handlers.status_pacing import StatusPacing
from cg_operator.reconcile.installation_summary import Event, status_write_cause
from cg_operator.reconcile.status import progress_only, write_now_because
from cg_operator.reconcile.tenant import tenant_status_write_cause
from tests.support.clock import Clock

DEPLOYMENT = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "open-zaak"}
JOB = {"apiVersion": "batch/v1", "kind": "Job", "name": "open-zaak-config-2"}


def status(ready: str, reason: str, **fields: Any) -> dict[str, Any]:
    return {
        "observedGeneration": 2,
        "observedVersion": "1.29.1",
        "inventory": [DEPLOYMENT],
        "conditions": [
            {"type": "Ready", "status": ready, "reason": reason, "message": reason},
            {"type": "Configured", "status": "False", "reason": "Configuring", "message": ""},
        ],
        **fields,
    }


MOVING = status("False", "Progressing")
NOW = "2026-12-06T01:00:00Z"


@pytest.mark.parametrize(
    ("current", "patch", "cause"),
    [
        # The configuration Job started after the workloads rolled: a new reason, still False.
        pytest.param(MOVING, status("False", "Configuring"), None, id="message-moves"),
        pytest.param(MOVING, status("False", "Progressing", lastProbe={"at": "x"}), None),
        # Ready's transitions are what rollouts and summaries wait for.
        pytest.param(MOVING, status("True", "Available"), "Ready", id="ready-turns-true"),
        pytest.param(status("True", "Available"), MOVING, "Ready", id="ready-turns-false"),
        # The version that runs, the spec reconciled to, and the children applied.
        pytest.param(
            MOVING,
            status("False", "Progressing", observedVersion="1.30.0"),
            "observedVersion",
            id="version",
        ),
        pytest.param(
            MOVING,
            status("False", "Progressing", observedGeneration=3),
            "observedGeneration",
            id="generation",
        ),
        # The inventory may wait, grown or shrunk: pruning reads the held one in its place.
        pytest.param(MOVING, status("False", "Progressing", inventory=[]), None, id="shrinks"),
        pytest.param(MOVING, status("False", "Progressing", inventory=[JOB]), None, id="swaps"),
        pytest.param(
            MOVING, status("False", "Progressing", inventory=[DEPLOYMENT, JOB]), None, id="grows"
        ),
        # The first status an object gets is written at once: `kubectl get cgi` shows it.
        pytest.param({}, MOVING, "first", id="first-status"),
        pytest.param(None, MOVING, "first", id="no-status"),
    ],
)
def test_progress_only_is_a_change_a_reader_may_see_late(
    current: dict[str, Any] | None, patch: dict[str, Any], cause: str | None
) -> None:
    assert write_now_because(current, patch) == cause
    assert progress_only(current, patch) is (cause is None)


def test_a_held_change_is_due_when_the_window_its_first_step_opened_ends() -> None:
    clock = Clock()
    pacing = StatusPacing(window=10.0, clock=clock)
    key = ("gm0014-groningen", "open-zaak")
    moving = status("False", "Progressing")
    assert pacing.hold(key, moving) == pytest.approx(10.0), "after a quiet spell it waits too"
    clock.now += 4.0
    configuring = status("False", "Configuring", inventory=[DEPLOYMENT, JOB])
    assert pacing.hold(key, configuring) == pytest.approx(6.0), "a later step does not extend"
    assert pacing.hold(("gm0014-groningen", "objecten"), moving) == pytest.approx(10.0), (
        "per object"
    )
    clock.now += 6.0
    assert pacing.hold(key, configuring) == 0.0
    pacing.settled(key)
    assert pacing.hold(key, moving) == pytest.approx(10.0), "a write closes the window"
    pacing.forget(key)
    assert pacing.held_inventory(key) is None, "a deleted object's successor starts fresh"


def test_the_held_inventory_is_the_latest_held_change() -> None:
    pacing = StatusPacing(window=10.0, clock=Clock())
    key = ("gm0014-groningen", "open-zaak")
    assert pacing.held_inventory(key) is None
    pacing.hold(key, status("False", "Configuring", inventory=[DEPLOYMENT, JOB]))
    assert pacing.held_inventory(key) == {
        ("apps/v1", "Deployment", "open-zaak"),
        ("batch/v1", "Job", "open-zaak-config-2"),
    }
    pacing.hold(key, status("False", "Progressing"))
    assert pacing.held_inventory(key) == {("apps/v1", "Deployment", "open-zaak")}
    pacing.hold(key, status("False", "Progressing", inventory=[]))
    assert pacing.held_inventory(key) == frozenset(), "an empty inventory held is not none held"
    pacing.settled(key)
    assert pacing.held_inventory(key) is None, "written: the stored status records it"


def test_pruning_counts_a_held_inventory_as_recorded() -> None:
    """A child applied by a pass whose status is held, and not wanted by the next pass, is
    disposed of like one the stored status lists (handlers/installation._reconcile prunes
    `inventory(live) - desired`)."""
    namespace, name = "gm0014-groningen", "open-zaak"
    live = {"metadata": {"namespace": namespace, "name": name}, "status": MOVING}
    assert installation.inventory(live) == {Ref("apps/v1", "Deployment", namespace, "open-zaak")}
    installation.STATUS_PACING.hold(
        (namespace, name), status("False", "Configuring", inventory=[DEPLOYMENT, JOB])
    )
    try:
        assert installation.inventory(live) == {
            Ref("apps/v1", "Deployment", namespace, "open-zaak"),
            Ref("batch/v1", "Job", namespace, "open-zaak-config-2"),
        }
    finally:
        installation.STATUS_PACING.forget((namespace, name))
    assert installation.inventory(live) == {Ref("apps/v1", "Deployment", namespace, "open-zaak")}


def test_a_child_a_held_pass_disposed_of_is_not_disposed_of_again() -> None:
    """An upgrade swaps the configuration Job: the pass that applies the new one deletes the
    old one and holds the status that no longer lists it. The next pass reads the held
    inventory, so it does not ask to delete the old Job again (a DELETE per pass in the
    window), and still counts the new one as applied."""
    namespace, name = "gm0014-groningen", "open-zaak"
    old_job = {"apiVersion": "batch/v1", "kind": "Job", "name": "open-zaak-config-1"}
    live = {
        "metadata": {"namespace": namespace, "name": name},
        "status": status("True", "Available", inventory=[DEPLOYMENT, old_job]),
    }
    assert Ref("batch/v1", "Job", namespace, "open-zaak-config-1") in installation.inventory(live)
    installation.STATUS_PACING.hold(
        (namespace, name), status("False", "Progressing", inventory=[DEPLOYMENT, JOB])
    )
    try:
        assert installation.inventory(live) == {
            Ref("apps/v1", "Deployment", namespace, "open-zaak"),
            Ref("batch/v1", "Job", namespace, "open-zaak-config-2"),
        }
        installation.STATUS_PACING.hold((namespace, name), status("False", "Progressing"))
        assert installation.inventory(live) == {
            Ref("apps/v1", "Deployment", namespace, "open-zaak")
        }, "the latest held pass is what was applied"
    finally:
        installation.STATUS_PACING.forget((namespace, name))


def test_an_installations_first_status_goes_out_at_once() -> None:
    # Its peers read its endpoint from it: held with the steps after it, the first status
    # saved no write at N=20 and cost the cold start 8 s (README, status writes by cause).
    assert status_write_cause({}, MOVING, []) == "first"
    assert status_write_cause({}, MOVING, [Event("MissingDependency", "x", warning=True)]) == (
        "first"
    )


@pytest.mark.parametrize(
    ("events", "cause"),
    [
        pytest.param([], None, id="no-event"),
        # Posted with the held write, a few seconds late: nobody acts on them.
        pytest.param([Event("Configured", "setup_configuration ran")], None, id="configured"),
        pytest.param([Event("Recovered", "answers again")], None, id="recovered"),
        # A person acts on a warning: it and its status go out at once.
        pytest.param([Event("Unhealthy", "502", warning=True)], "warning", id="unhealthy"),
        pytest.param(
            [Event("Configured", "ran"), Event("MissingDependency", "no objecten", warning=True)],
            "warning",
            id="a-warning-among-them",
        ),
    ],
)
def test_only_a_change_without_a_warning_may_wait(events: list[Event], cause: str | None) -> None:
    moving = status("False", "Configuring")
    assert status_write_cause(MOVING, moving, events) == cause
    assert status_write_cause(MOVING, status("True", "Available"), events) == "Ready", (
        "Ready never waits, and is counted as Ready"
    )


READY_AT_2 = status("True", "Available")
APPLYING = status("False", "Progressing", observedGeneration=3)


@pytest.mark.parametrize(
    ("current", "patch", "cause"),
    [
        # An upgrade or an edited setting being applied: the stored status, Ready with an older
        # observedGeneration, already says so (kstatus: InProgress); Ready's fall waits.
        pytest.param(READY_AT_2, APPLYING, None, id="applying-a-change"),
        pytest.param(
            READY_AT_2,
            status("False", "Configuring", observedGeneration=3, inventory=[DEPLOYMENT, JOB]),
            None,
            id="its-next-step",
        ),
        # Done within the window: one write, at once (the first immediate field names it).
        pytest.param(
            READY_AT_2,
            status("True", "Available", observedGeneration=3, observedVersion="1.30.0"),
            "observedGeneration",
            id="done-at-the-new-version",
        ),
        pytest.param(
            READY_AT_2,
            status("True", "Available", observedGeneration=3),
            "observedGeneration",
            id="done-at-the-same-version",
        ),
        # Not a change being applied: Ready falls at the generation it stands for (workloads
        # lost, a dependency gone) or for a version it reports as running.
        pytest.param(READY_AT_2, MOVING, "Ready", id="falls-at-the-same-generation"),
        pytest.param(
            READY_AT_2,
            status("False", "Progressing", observedGeneration=3, observedVersion="1.30.0"),
            "Ready",
            id="falls-with-a-new-version",
        ),
        pytest.param(MOVING, APPLYING, "observedGeneration", id="was-not-ready"),
    ],
)
def test_a_ready_installation_applying_a_change_holds_its_fall(
    current: dict[str, Any], patch: dict[str, Any], cause: str | None
) -> None:
    assert status_write_cause(current, patch, []) == cause
    assert status_write_cause(current, patch, [Event("Unhealthy", "502", warning=True)]) == (
        cause or "warning"
    ), "a warning goes out at once"


def tenant_status(ready: str, components_ready: str, **fields: Any) -> dict[str, Any]:
    return {
        "observedGeneration": 1,
        "namespace": "gm0014-groningen",
        "componentsReady": components_ready,
        "components": [{"name": "open-zaak", "ready": components_ready == "1/1"}],
        "conditions": [{"type": "Ready", "status": ready, "reason": "r", "message": ""}],
        **fields,
    }


@pytest.mark.parametrize(
    ("patch", "cause"),
    [
        # Its installations' progress, summed up: a reader may see it a few seconds late.
        pytest.param(tenant_status("False", "0/2"), None, id="summary-moves"),
        # What a reader acts on: Ready, the namespace it claimed, its shard, its spec.
        pytest.param(tenant_status("True", "1/1"), "Ready", id="ready-turns-true"),
        pytest.param(tenant_status("False", "0/1", namespace="other"), "namespace", id="namespace"),
        pytest.param(tenant_status("False", "0/1", shard="east"), "shard", id="shard"),
        pytest.param(
            tenant_status("False", "0/1", observedGeneration=2),
            "observedGeneration",
            id="generation",
        ),
    ],
)
def test_a_tenant_holds_only_its_summary(patch: dict[str, Any], cause: str | None) -> None:
    current = tenant_status("False", "0/1")
    assert tenant_status_write_cause(current, patch) == cause
    assert tenant_status_write_cause(None, patch) == "first", "its first status goes out at once"


def test_postpone_holds_only_what_may_wait_and_releases_it_when_due() -> None:
    clock = Clock()
    pacing = StatusPacing(window=10.0, clock=clock)
    key = "gm0014-groningen"
    moving = status("False", "Configuring", inventory=[DEPLOYMENT, JOB])
    assert pacing.postpone(key, moving, may_wait=True) == pytest.approx(10.0)
    assert pacing.held_inventory(key), "held: pruning counts its inventory"
    clock.now += 10.0
    assert pacing.postpone(key, moving, may_wait=True) == 0.0, "due: written now"
    assert pacing.held_inventory(key) is None, "written: nothing held"
    pacing.postpone(key, moving, may_wait=True)
    assert pacing.postpone(key, status("True", "Available"), may_wait=False) == 0.0
    assert pacing.held_inventory(key) is None, "a write that may not wait carries it"
    pacing.postpone(key, moving, may_wait=True)
    assert pacing.postpone(key, None, may_wait=False) == 0.0
    assert pacing.held_inventory(key) is None, "nothing left to write: nothing held"


def test_a_refused_spec_keeps_the_inventory_a_held_pass_applied(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A pass applied the configuration Job and held its status; the next pass finds the spec
    refused and writes only why. That write ends the hold, so it records the held inventory:
    once the spec is fixed, the Job is still known and pruned when no longer wanted."""
    namespace, name = "gm0014-groningen", "open-zaak"
    live = {"metadata": {"namespace": namespace, "name": name, "generation": 3}, "status": MOVING}
    written: list[dict[str, Any]] = []
    monkeypatch.setattr(
        installation, "patch_status", lambda _plural, _name, patch, _ns: written.append(patch)
    )
    installation.STATUS_PACING.hold(
        (namespace, name), status("False", "Configuring", inventory=[DEPLOYMENT, JOB])
    )
    try:
        refused = Condition.model_validate(
            {"type": "Ready", "status": "False", "reason": "InvalidSpec", "lastTransitionTime": NOW}
        )
        installation._write_status(live, [refused], {})
    finally:
        installation.STATUS_PACING.forget((namespace, name))
    [patch] = written
    assert patch["inventory"] == [DEPLOYMENT, JOB]
    stored = {**live, "status": {**MOVING, **patch}}
    assert Ref("batch/v1", "Job", namespace, "open-zaak-config-2") in installation.inventory(stored)
