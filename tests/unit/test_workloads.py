"""A workload is available only when the controller saw the change and every replica is ready."""

from __future__ import annotations

from typing import Any

from cg_operator.reconcile.workloads import rollout_state


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
