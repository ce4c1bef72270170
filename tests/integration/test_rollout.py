"""Staged rollouts against the real control plane: 14 tenants in 3 rings (plus a pinned one and
one that approves for itself), a rollout that completes in wave order within maxParallel and
bake times, an approval gate, a broken version that pauses one rollout and is rolled back by
another, a configuration that fails and pauses a rollout the same way, a second rollout
refused while one runs, and an operator killed mid-rollout.

The broken version asks for 900 CPUs: its pods are never scheduled, so it never becomes Ready.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest

from tests.integration.conftest import OperatorProcess, start_operator
from tests.support.cluster import Cluster, condition, get_json, ready_on, wait_for
from tests.support.configuration import make_job_pods_unschedulable, remove_policy

COMPONENT = "rollout-test"
GOOD, NEXT, BROKEN = "1.0.0", "1.1.0", "1.2.0"
# Runs, but its configuration Job fails where a policy keeps Job pods from being scheduled.
UNCONFIGURED = "1.3.0"
RINGS = {
    "koploper": ["t-ro-almere", "t-ro-breda", "t-ro-delft"],
    "vroege-volger": ["t-ro-ede", "t-ro-emmen", "t-ro-gouda", "t-ro-hoorn"],
    "volger": ["t-ro-leek", "t-ro-lisse", "t-ro-oss", "t-ro-putten", "t-ro-sneek"],
}
PINNED, APPROVER = "t-ro-urk", "t-ro-weert"
ALL = [*[t for ring in RINGS.values() for t in ring], PINNED, APPROVER]
TIMEOUT = 300


def component() -> dict[str, Any]:
    def version(number: str, cpu: str, **container: Any) -> dict[str, Any]:
        return {
            "version": number,
            "container": {
                "image": f"registry.example/rollout-test:{number}",
                "port": 8000,
                "user": {"runAsUser": 1000},
                "probes": {"readiness": "/ready"},
                "resources": {"requests": {"cpu": cpu, "memory": "64Mi"}},
                **container,
            },
        }

    configuration = {"command": ["/app/configure"], "data": "a: 1\n", "deadlineSeconds": 3}

    return {
        "apiVersion": "appstore.commonground.nl/v1alpha1",
        "kind": "CGComponent",
        "metadata": {"name": COMPONENT},
        "spec": {
            "displayName": "Rollout test",
            "description": "A component for the rollout tests.",
            "layer": "Service",
            "tier": "Plus",
            "lifecycle": "Beta",
            "steward": {"name": "Test"},
            "defaultVersion": GOOD,
            "versions": [
                version(GOOD, "10m"),
                version(NEXT, "10m"),
                version(BROKEN, "900"),
                version(UNCONFIGURED, "10m", configuration=configuration),
            ],
            "offerings": [
                {"name": "container", "type": "Container", "deliveryOrganisation": {"name": "T"}}
            ],
        },
    }


def tenant(name: str, ring: str, code: int, **extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": "appstore.commonground.nl/v1alpha1",
        "kind": "MunicipalityTenant",
        "metadata": {"name": name},
        "spec": {
            "municipality": {"name": name.removeprefix("t-ro-").title(), "code": f"GM{code:04d}"},
            "ring": ring,
            "namespace": name,
            "deletionPolicy": "Delete",
            "components": [{"name": COMPONENT, "offering": "container"}],
            **extra,
        },
    }


def rollout(name: str, version: str, **spec: Any) -> dict[str, Any]:
    waves = [
        {
            "name": "koplopers",
            "tenantSelector": {"matchLabels": {"appstore.commonground.nl/ring": "koploper"}},
            "maxParallel": 1,
            "bakeTime": "5s",
        },
        {
            "name": "vroege-volgers",
            "tenantSelector": {"matchLabels": {"appstore.commonground.nl/ring": "vroege-volger"}},
            "maxParallel": 2,
            "bakeTime": "5s",
            "requireApproval": True,
        },
        {
            "name": "volgers",
            "tenantSelector": {
                "matchExpressions": [
                    {"key": "appstore.commonground.nl/ring", "operator": "In", "values": ["volger"]}
                ]
            },
            "maxParallel": "40%",
            "bakeTime": "5s",
        },
    ]
    return {
        "apiVersion": "appstore.commonground.nl/v1alpha1",
        "kind": "ComponentRollout",
        "metadata": {"name": name},
        "spec": {"component": COMPONENT, "version": version, "waves": waves, **spec},
    }


@dataclass
class Recorder:
    """Polls the installations: when each tenant was asked to run which version, and the peak
    number per ring asked to run the target but not yet running it Ready."""

    cluster: Cluster
    target: str
    moves: list[tuple[float, str, str]] = field(default_factory=list)
    peak: dict[str, int] = field(default_factory=dict)
    healthy_at: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._seen: dict[str, str] = {}
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> Recorder:
        self._poll()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._poll()
            self._stop.wait(0.2)

    def _poll(self) -> None:
        items = get_json(self.cluster, "cgi", "-A")
        in_flight: dict[str, int] = {}
        for item in items.get("items", []):
            if item["spec"]["component"] != COMPONENT:
                continue
            name, version = item["spec"]["tenant"], item["spec"]["version"]
            if self._seen.get(name) != version:
                if name in self._seen:
                    self.moves.append((time.monotonic(), name, version))
                self._seen[name] = version
            ring = next((r for r, names in RINGS.items() if name in names), "other")
            running = (item.get("status") or {}).get("observedVersion") == version
            ready = condition(item, "Ready").get("status") == "True"
            if version == self.target and not (running and ready):
                in_flight[ring] = in_flight.get(ring, 0) + 1
            healthy = condition(item, "Healthy")
            if version == self.target and running and healthy.get("status") == "True":
                self.healthy_at[name] = healthy["lastTransitionTime"]
        for ring, count in in_flight.items():
            self.peak[ring] = max(self.peak.get(ring, 0), count)


class Running:
    def __init__(self, proc: OperatorProcess) -> None:
        self.proc = proc


@pytest.fixture(scope="module")
def fleet(
    cluster: Cluster, crds: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    cluster.apply(component())
    code = 400
    for ring, names in RINGS.items():
        for name in names:
            code += 1
            cluster.apply(tenant(name, ring, code))
    cluster.apply(tenant(PINNED, "volger", 498, upgradePolicy="Pin"))
    cluster.apply(tenant(APPROVER, "volger", 499, upgradePolicy="Approve"))
    running = Running(start_operator(cluster, tmp_path_factory.mktemp("rollout") / "op.log"))
    for name in ALL:
        wait_for(f"{name} Ready", lambda n=name: _ready_on(cluster, n, GOOD), timeout=TIMEOUT)
    yield running
    cluster.kubectl("delete", "cgr", "-l", "test=rollout", "--ignore-not-found", "--wait=false")
    cluster.kubectl("delete", "mt", *ALL, "--ignore-not-found", "--timeout=200s", check=False)
    running.proc.stop()
    cluster.kubectl("delete", "cgc", COMPONENT, "--ignore-not-found", "--wait=false")


def _cgi(cluster: Cluster, tenant_name: str) -> dict[str, Any]:
    return get_json(cluster, "cgi", COMPONENT, "-n", tenant_name)


def _ready_on(cluster: Cluster, tenant_name: str, version: str) -> bool:
    return ready_on(cluster, tenant_name, COMPONENT, version)


def _rollout(cluster: Cluster, name: str) -> dict[str, Any]:
    return get_json(cluster, "cgr", name)


def _labelled(manifest: dict[str, Any]) -> dict[str, Any]:
    manifest["metadata"]["labels"] = {"test": "rollout"}
    return manifest


def _events(cluster: Cluster, obj: dict[str, Any]) -> list[str]:
    """Reasons of the events on this very object (not an earlier one of the same name)."""
    uid = obj["metadata"]["uid"]
    items = get_json(cluster, "events", "-n", "default")["items"]
    return [e["reason"] for e in items if e["involvedObject"].get("uid") == uid]


def _when(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def test_a_rollout_completes_in_wave_order_within_max_parallel_and_bake_times(
    cluster: Cluster, fleet: Running
) -> None:
    with Recorder(cluster, NEXT) as recorder:
        cluster.apply(_labelled(rollout("rt-next", NEXT, progressDeadline="2m")))
        wait_for(
            "the approval gate",
            lambda: (
                (_rollout(cluster, "rt-next").get("status") or {}).get("currentWave")
                == "vroege-volgers"
            ),
            timeout=TIMEOUT,
        )
        held = [n for _t, n, v in recorder.moves if v == NEXT]
        assert sorted(held) == sorted(RINGS["koploper"]), "only koplopers before approval"
        assert condition(_rollout(cluster, "rt-next"), "Progressing")["status"] == "True"
        cluster.kubectl(
            "patch",
            "cgr",
            "rt-next",
            "--type=merge",
            "-p",
            json.dumps({"spec": {"approvedWaves": ["vroege-volgers"]}}),
        )
        wait_for(
            "Complete",
            lambda: condition(_rollout(cluster, "rt-next"), "Complete").get("status") == "True",
            timeout=TIMEOUT,
        )
    moved = [n for _t, n, v in recorder.moves if v == NEXT]
    order = [next(r for r, names in RINGS.items() if n in names) for n in moved]
    assert order == sorted(order, key=list(RINGS).index), f"wave order: {moved}"
    assert sorted(moved) == sorted(t for ring in RINGS.values() for t in ring)
    limits = {"koploper": 1, "vroege-volger": 2, "volger": 2}  # 40% of 5, rounded down
    # The recorder samples (a kubectl list every ~0.5 s): a wave that moves faster than that is
    # never seen in flight, so only the bound is asserted for every ring seen.
    assert recorder.peak, "the recorder saw tenants in flight"
    assert set(recorder.peak) <= set(limits), recorder.peak
    assert all(recorder.peak[ring] <= limits[ring] for ring in recorder.peak), recorder.peak
    for name in (PINNED, APPROVER):
        assert _cgi(cluster, name)["spec"]["version"] == GOOD
    final = _rollout(cluster, "rt-next")
    states = {t["name"]: (t["state"], t["reason"]) for t in final["status"]["tenants"]}
    assert states[PINNED] == ("Skipped", "upgradePolicy Pin: never moved")
    assert states[APPROVER][0] == "WaitingForApproval"
    assert final["status"]["progress"] == "12/13"  # the approver still waits for itself
    waves = {w["name"]: w for w in final["status"]["waves"]}
    gaps = []
    for previous, wave in (("koplopers", "vroege-volgers"), ("vroege-volgers", "volgers")):
        ring = {"koplopers": "koploper", "vroege-volgers": "vroege-volger"}[previous]
        last_healthy = max(_when(recorder.healthy_at[n]) for n in RINGS[ring])
        gap = _when(waves[wave]["startedAt"]) - last_healthy
        gaps.append(gap)
        if previous == "koplopers":
            continue  # the next wave waited for its approval, not only the bake time
        assert 5 <= gap <= 5 + 20, f"{wave} started {gap:.1f}s after {previous} was healthy"
    print(f"\nupdate order: {moved}\npeak parallel: {recorder.peak}\nwave gaps (s): {gaps}")
    reasons = _events(cluster, final)
    assert reasons.count("WaveStarted") == 3
    assert reasons.count("WaveCompleted") == 3
    # The approving tenant joins once it approves.
    cluster.apply(
        tenant(
            APPROVER,
            "volger",
            499,
            upgradePolicy="Approve",
            approvedRollouts=[{"name": "rt-next", "component": COMPONENT, "version": NEXT}],
        )
    )
    wait_for(
        "the approver on the new version",
        lambda: _ready_on(cluster, APPROVER, NEXT),
        timeout=TIMEOUT,
    )
    adoption = get_json(cluster, "cgc", COMPONENT)["status"]
    assert json.dumps(adoption).count(NEXT) >= 1


def test_a_second_rollout_is_refused_while_one_runs(cluster: Cluster, fleet: Running) -> None:
    cluster.apply(_labelled(rollout("rt-hold", BROKEN, paused=True)))
    wait_for(
        "the first one Paused",
        lambda: condition(_rollout(cluster, "rt-hold"), "Paused").get("status") == "True",
    )
    cluster.apply(_labelled(rollout("rt-second", BROKEN)))
    refused = wait_for(
        "the second refused",
        lambda: (
            (c := condition(_rollout(cluster, "rt-second"), "Ready")).get("reason")
            == "ConflictingRollout"
            and c
        ),
    )
    assert "rt-hold" in refused["message"]
    cluster.kubectl("delete", "cgr", "rt-hold", "rt-second", "--wait=true")


def _failed(cluster: Cluster, name: str, reason: str) -> dict[str, Any]:
    """Wait until the rollout's Failed condition has `reason`; return it."""
    return dict(
        wait_for(
            f"{name} Failed ({reason})",
            lambda: (
                ((c := condition(_rollout(cluster, name), "Failed")).get("reason") == reason and c)
                or None
            ),
            timeout=TIMEOUT,
        )
    )


def _stops_at_the_first_koploper(cluster: Cluster, name: str, version: str) -> dict[str, Any]:
    """Roll `version` out; it fails at the first koploper, moves nobody else, and deleting the
    rollout returns that tenant to what the completed rollout holds it at. The Failed
    condition seen while it stood."""
    cluster.apply(_labelled(rollout(name, version, progressDeadline="20s")))
    failed = _failed(cluster, name, "TenantFailed")
    first = RINGS["koploper"][0]
    assert failed["status"] == "True"
    assert first in failed["message"]
    assert condition(_rollout(cluster, name), "Paused")["status"] == "True"
    others = [n for n in ALL if n != first]
    assert all(_cgi(cluster, n)["spec"]["version"] != version for n in others)
    cluster.kubectl("delete", "cgr", name, "--wait=true")
    wait_for(f"{first} back on {NEXT}", lambda: _ready_on(cluster, first, NEXT), timeout=TIMEOUT)
    return failed


def test_a_broken_version_pauses_the_rollout_and_names_the_tenant(
    cluster: Cluster, fleet: Running
) -> None:
    failed = _stops_at_the_first_koploper(cluster, "rt-broken", BROKEN)
    assert "not Ready and Healthy" in failed["message"]


def test_a_failed_configuration_pauses_the_rollout_like_an_unhealthy_tenant(
    cluster: Cluster, fleet: Running
) -> None:
    """The first koploper's configuration Job cannot run (its pods are kept unschedulable until
    the Job's 3 s deadline): the rollout stops there, naming the tenant and the Job."""
    first = RINGS["koploper"][0]
    policy = make_job_pods_unschedulable(cluster, first)
    try:
        failed = _stops_at_the_first_koploper(cluster, "rt-unconfigured", UNCONFIGURED)
        assert "configuration Job" in failed["message"]
    finally:
        remove_policy(cluster, policy, first)


def test_rollback_returns_exactly_the_tenants_moved(cluster: Cluster, fleet: Running) -> None:
    spec = rollout("rt-rollback", BROKEN, progressDeadline="20s", failurePolicy="Rollback")
    spec["spec"]["waves"][0]["maxParallel"] = 2
    cluster.apply(_labelled(spec))
    failed = _failed(cluster, "rt-rollback", "RolledBack")
    status = _rollout(cluster, "rt-rollback")["status"]
    rolled = {t["name"] for t in status["tenants"] if t["state"] == "RolledBack"}
    assert rolled == set(RINGS["koploper"][:2])
    assert all(t["from"] == NEXT for t in status["tenants"] if t["name"] in rolled)
    for name in rolled:
        wait_for(
            f"{name} back on {NEXT}", lambda n=name: _ready_on(cluster, n, NEXT), timeout=TIMEOUT
        )
    assert _cgi(cluster, RINGS["koploper"][2])["spec"]["version"] == NEXT
    assert "rolled back" in failed["message"]
    cluster.kubectl("delete", "cgr", "rt-rollback", "--wait=true")


def test_a_killed_operator_resumes_without_repeating_or_skipping_a_wave(
    cluster: Cluster, fleet: Running, tmp_path: Any
) -> None:
    back = rollout("rt-back", GOOD)
    back["spec"]["approvedWaves"] = ["vroege-volgers"]
    with Recorder(cluster, GOOD) as recorder:
        cluster.apply(_labelled(back))
        wait_for(
            "the second wave under way",
            lambda: (
                (_rollout(cluster, "rt-back").get("status") or {}).get("currentWave")
                == "vroege-volgers"
            ),
            timeout=TIMEOUT,
        )
        fleet.proc.process.send_signal(signal.SIGKILL)
        fleet.proc.stop(kill=True)
        fleet.proc = start_operator(cluster, tmp_path / "second.log")
        wait_for(
            "Complete after the restart",
            lambda: condition(_rollout(cluster, "rt-back"), "Complete").get("status") == "True",
            timeout=TIMEOUT,
        )
    moved = [n for _t, n, v in recorder.moves if v == GOOD]
    assert sorted(moved) == sorted(set(moved)), f"a tenant moved twice: {moved}"
    assert len(moved) == 12
    final = _rollout(cluster, "rt-back")
    # Status is the record: every wave started once, in order, and completed.
    waves = final["status"]["waves"]
    assert [w["name"] for w in waves] == ["koplopers", "vroege-volgers", "volgers"]
    starts = [_when(w["startedAt"]) for w in waves]
    assert starts == sorted(starts)
    assert all(_when(w["completedAt"]) >= _when(w["startedAt"]) for w in waves)
    # Events are best effort (a kill between the status write and the event loses the event),
    # but none is ever repeated.
    started = [
        e["message"]
        for e in get_json(cluster, "events", "-n", "default")["items"]
        if e["involvedObject"].get("uid") == final["metadata"]["uid"]
        and e["reason"] == "WaveStarted"
    ]
    assert len(started) == len(set(started)), started
