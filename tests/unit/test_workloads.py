"""A workload is available only when the controller saw the change and every replica is ready."""

from __future__ import annotations

from typing import Any

from cg_operator.reconcile.workloads import changing, rollout_state


def deployment(generation: int = 2, **status: Any) -> dict[str, Any]:
    return {
        "kind": "Deployment",
        "metadata": {"name": "web", "generation": generation},
        "spec": {"replicas": 2},
        "status": status,
    }


def test_fully_rolled_out() -> None:
    live = deployment(observedGeneration=2, updatedReplicas=2, availableReplicas=2)
    assert rollout_state(live) == (True, "")


def test_not_yet_seen_by_the_controller() -> None:
    live = deployment(observedGeneration=1, updatedReplicas=2, availableReplicas=2)
    assert rollout_state(live) == (
        False,
        "Deployment web: the controller has not seen the latest change",
    )


def test_quota_failures_are_named() -> None:
    live = deployment(
        observedGeneration=2,
        conditions=[
            {"type": "ReplicaFailure", "status": "True", "message": "exceeded quota: tenant-quota"}
        ],
    )
    assert rollout_state(live) == (False, "Deployment web: exceeded quota: tenant-quota")


def test_partly_ready_and_missing() -> None:
    live = deployment(observedGeneration=2, updatedReplicas=2, availableReplicas=1)
    assert rollout_state(live) == (False, "Deployment web: 1/2 ready")
    assert rollout_state(None) == (False, "not created yet")


def test_old_pods_still_serving_do_not_make_a_new_version_available() -> None:
    """A new version whose pods cannot start: the surge pod is 'updated' but Pending while the
    old pods stay available; that is not a rolled-out Deployment (`kubectl rollout status`)."""
    live = deployment(observedGeneration=2, replicas=3, updatedReplicas=2, availableReplicas=2)
    assert rollout_state(live) == (False, "Deployment web: 1 old replicas pending termination")


def test_a_change_moving_through_is_told_from_an_outage() -> None:
    """New settings or a rotated credential replace the pods as a new version does: while the
    controller has not seen the change, replicas are not all updated or old ones remain, the
    workload is changing; pods lost at an unchanged spec are not."""
    assert changing(deployment(observedGeneration=1, updatedReplicas=2, availableReplicas=2))
    assert changing(deployment(observedGeneration=2, updatedReplicas=1, availableReplicas=2))
    assert changing(
        deployment(observedGeneration=2, replicas=3, updatedReplicas=2, availableReplicas=2)
    )
    lost = deployment(observedGeneration=2, replicas=2, updatedReplicas=2, availableReplicas=0)
    assert not changing(lost)
    assert rollout_state(lost)[0] is False
    assert not changing(None)
    rolling = {
        "kind": "StatefulSet",
        "metadata": {"name": "db", "generation": 1},
        "spec": {"replicas": 1},
        "status": {
            "observedGeneration": 1,
            "updatedReplicas": 1,
            "currentRevision": "db-1",
            "updateRevision": "db-2",
        },
    }
    assert changing(rolling)
