"""Workload availability: is a Deployment or StatefulSet fully rolled out? Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def rollout_state(live: Mapping[str, Any] | None) -> tuple[bool, str]:
    """(available, why not) for a Deployment or StatefulSet as the API server reports it."""
    if live is None:
        return False, "not created yet"
    name = f"{live['kind']} {live['metadata']['name']}"
    problem = _first_problem(live)
    return (problem is None, "" if problem is None else f"{name}: {problem}")


def _first_problem(live: Mapping[str, Any]) -> str | None:
    return next((message for failed, message, _ in _checks(live) if failed), None)


def changing(live: Mapping[str, Any] | None) -> bool:
    """Whether a change is moving through a workload: the controller has not seen its latest
    spec, not every replica runs it, old replicas remain, or a StatefulSet rolls to a new
    revision. Its unavailability is then the change's, not an outage: a settings change or a
    rotated credential replaces the pods the way a new version does."""
    return live is not None and any(failed and rolling for failed, _, rolling in _checks(live))


def _checks(live: Mapping[str, Any]) -> list[tuple[bool, str, bool]]:
    """(failed, why, whether it is a change rolling through) for each way a workload can fall
    short of fully rolled out, in the order they are reported."""
    spec, status = live.get("spec") or {}, live.get("status") or {}
    wanted = int(spec.get("replicas", 1))
    updated = int(status.get("updatedReplicas", 0) or 0)
    ready_key = "availableReplicas" if live["kind"] == "Deployment" else "readyReplicas"
    ready = int(status.get(ready_key, 0) or 0)
    failures = [
        c.get("message", "cannot create pods")
        for c in status.get("conditions") or []
        # A Deployment whose pods cannot be created (quota, admission) says so here.
        if c.get("type") == "ReplicaFailure" and c.get("status") == "True"
    ]
    return [
        (
            int(status.get("observedGeneration", 0)) < int(live["metadata"].get("generation", 0)),
            "the controller has not seen the latest change",
            True,
        ),
        (bool(failures), failures[0] if failures else "", False),
        (updated < wanted, f"{updated}/{wanted} updated", True),
        # As `kubectl rollout status`: old pods still serving do not make a new version ready.
        (
            live["kind"] == "Deployment" and int(status.get("replicas", 0) or 0) > updated,
            f"{int(status.get('replicas', 0) or 0) - updated} old replicas pending termination",
            True,
        ),
        (ready < wanted, f"{ready}/{wanted} ready", False),
        (
            live["kind"] == "StatefulSet"
            and status.get("currentRevision") != status.get("updateRevision"),
            "rolling out a new revision",
            True,
        ),
    ]
