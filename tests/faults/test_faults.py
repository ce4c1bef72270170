"""The operator survives what goes wrong in a real cluster, and every scenario ends in the same
checked state: exactly the desired children, nothing orphaned, every tenant and installation
Ready with its generation observed, nothing stuck deleting, events bounded, no change lost.

Each scenario's time to converge after the fault is printed and appended to
.local/fault-timings.jsonl (`make test-faults` shows them)."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import OperatorProcess, start_operator
from tests.support.apiserver import WriteWindow
from tests.support.cluster import (
    LOCAL_KUBECONFIG,
    REPO,
    Cluster,
    cluster_required,
    condition,
    get_json,
    wait_for,
)

APP = "fault-app"
OWN = {"municipalitytenants", "componentinstallations", "cgcomponents", "componentrollouts"}
CONVERGE = 240
TIMINGS = REPO / ".local" / "fault-timings.jsonl"
# Our events per object over a whole scenario: transitions only, never a stream.
EVENTS_PER_OBJECT_MAX = 12


def catalogue_entry() -> dict[str, Any]:
    """A component with a worker, an embedded PostgreSQL, a generated secret and one setting:
    every kind of child a real component has."""
    return {
        "apiVersion": "appstore.commonground.nl/v1alpha1",
        "kind": "CGComponent",
        "metadata": {"name": APP},
        "spec": {
            "displayName": "Fault test",
            "layer": "Service",
            "tier": "Plus",
            "lifecycle": "Beta",
            "defaultVersion": "1.0.0",
            "versions": [
                {
                    "version": "1.0.0",
                    "container": {
                        "image": "registry.example/fault-app:1.0.0",
                        "port": 8000,
                        "user": {"runAsUser": 1000},
                        "probes": {"readiness": "/ready"},
                        "settings": [{"name": "SITE_DOMAIN"}],
                        "generatedSecrets": [{"name": "SECRET_KEY", "length": 50}],
                        "workers": [{"name": "worker", "command": ["/worker.sh"]}],
                        "backingServices": [{"type": "PostgreSQL"}],
                    },
                }
            ],
            "offerings": [
                {"name": "container", "type": "Container", "deliveryOrganisation": {"name": "T"}}
            ],
        },
    }


def tenant(name: str, code: int, site: str = "a.example.nl") -> dict[str, Any]:
    return {
        "apiVersion": "appstore.commonground.nl/v1alpha1",
        "kind": "MunicipalityTenant",
        "metadata": {"name": name},
        "spec": {
            "municipality": {"name": name.removeprefix("t-f-").title(), "code": f"GM{code:04d}"},
            "namespace": name,
            "deletionPolicy": "Delete",
            "components": [{"name": APP, "offering": "container", "values": {"SITE_DOMAIN": site}}],
        },
    }


def record(scenario: str, seconds: float, **extra: Any) -> None:
    """Print a scenario's timing and keep it for the report."""
    entry = {"scenario": scenario, "seconds": round(seconds, 1), **extra}
    print(f"\nfault timing: {json.dumps(entry)}")
    TIMINGS.parent.mkdir(exist_ok=True)
    with TIMINGS.open("a") as out:
        out.write(json.dumps(entry) + "\n")


@pytest.fixture(scope="module")
def catalogue(cluster: Cluster, crds: None) -> Iterator[None]:
    cluster.apply(catalogue_entry())
    yield
    cluster.kubectl("delete", "cgc", APP, "--ignore-not-found", "--wait=false")


@pytest.fixture
def operator(cluster: Cluster, catalogue: None, tmp_path: Path) -> Iterator[list[OperatorProcess]]:
    """The running operator, as a one-element list a scenario may replace it in."""
    running = [start_operator(cluster, tmp_path / "operator.log")]
    yield running
    for proc in running:
        proc.stop()


def _tenant_names(cluster: Cluster) -> set[str]:
    return {t["metadata"]["name"] for t in get_json(cluster, "mt").get("items") or []}


def _problems(cluster: Cluster, tenants: list[str], gone: list[str]) -> list[str]:
    """Everything that keeps the cluster from the converged state, one line each."""
    problems = []
    existing = _tenant_names(cluster)
    for name in gone:
        if name in existing:
            problems.append(f"tenant {name} still exists")
        if get_json(cluster, "namespace", name):
            problems.append(f"namespace {name} still exists")
    for name in tenants:
        problems += _tenant_problems(cluster, name)
    return problems


def _tenant_problems(cluster: Cluster, name: str) -> list[str]:
    mt = get_json(cluster, "mt", name)
    if not mt:
        return [f"tenant {name} is missing"]
    out = []
    if mt["metadata"].get("deletionTimestamp"):
        out.append(f"tenant {name} is stuck deleting")
    if condition(mt, "Ready").get("status") != "True":
        out.append(f"tenant {name} not Ready: {condition(mt, 'Ready').get('message')}")
    if (mt.get("status") or {}).get("observedGeneration") != mt["metadata"]["generation"]:
        out.append(f"tenant {name}: generation {mt['metadata']['generation']} not observed")
    cgi = get_json(cluster, "cgi", APP, "-n", name)
    if not cgi:
        return [*out, f"installation in {name} is missing"]
    if condition(cgi, "Ready").get("status") != "True":
        out.append(f"installation in {name} not Ready: {condition(cgi, 'Ready').get('message')}")
    if (cgi.get("status") or {}).get("observedGeneration") != cgi["metadata"]["generation"]:
        out.append(f"installation in {name}: generation not observed")
    site = mt["spec"]["components"][0]["values"]["SITE_DOMAIN"]
    config = get_json(cluster, "configmap", f"{APP}-config", "-n", name)
    if (config.get("data") or {}).get("SITE_DOMAIN") != site:
        out.append(f"{name}: the ConfigMap lost the change to SITE_DOMAIN={site}")
    out += _children_problems(cluster, name, cgi["metadata"]["uid"])
    return out


def _children_problems(cluster: Cluster, namespace: str, installation_uid: str) -> list[str]:
    expected = {
        ("Deployment", APP),
        ("Deployment", f"{APP}-worker"),
        ("StatefulSet", f"{APP}-postgresql"),
        ("Service", APP),
        ("Service", f"{APP}-postgresql"),
        ("ConfigMap", f"{APP}-config"),
        ("Secret", f"{APP}-binding"),
        ("Secret", f"{APP}-secrets"),
        ("Secret", f"{APP}-postgresql"),
        ("NetworkPolicy", f"{APP}-postgresql"),
    }
    kinds = "deployments,statefulsets,services,configmaps,secrets,networkpolicies"
    selector = "appstore.commonground.nl/installation"
    items = get_json(cluster, kinds, "-n", namespace, "-l", selector).get("items") or []
    found = Counter((i["kind"], i["metadata"]["name"]) for i in items)
    out = []
    if set(found) != expected:
        out.append(f"{namespace}: children {sorted(set(found) ^ expected)} differ")
    for item in items:
        owners = {o["uid"] for o in item["metadata"].get("ownerReferences") or []}
        data = item["kind"] == "Secret" and not owners
        if not data and installation_uid not in owners:
            out.append(f"{namespace}: {item['kind']}/{item['metadata']['name']} is orphaned")
    return out


def converge(cluster: Cluster, what: str, tenants: list[str], gone: list[str]) -> float:
    """Wait until the invariant holds; the seconds it took."""
    started = time.monotonic()
    last: list[str] = []

    def settled() -> bool:
        nonlocal last
        last = _problems(cluster, tenants, gone)
        return not last

    try:
        wait_for(what, settled, timeout=CONVERGE, interval=1)
    except AssertionError:
        raise AssertionError(f"{what}: not converged: {last[:10]}") from None
    assert_events_bounded(cluster, tenants)
    return time.monotonic() - started


def assert_events_bounded(cluster: Cluster, namespaces: list[str]) -> None:
    for namespace in namespaces:
        items = get_json(cluster, "events", "-n", namespace).get("items") or []
        ours = Counter(
            e["involvedObject"]["name"]
            for e in items
            if (e.get("source") or {}).get("component") == "cg-operator"
        )
        noisy = {k: v for k, v in ours.items() if v > EVENTS_PER_OBJECT_MAX}
        assert not noisy, f"{namespace}: unbounded events {noisy}"


def delete_tenants(cluster: Cluster, names: list[str]) -> None:
    if names:
        cluster.kubectl("delete", "mt", *names, "--ignore-not-found", "--wait=false")


def cleanup(cluster: Cluster, names: list[str]) -> None:
    delete_tenants(cluster, names)
    wait_for(
        "the scenario's tenants to go",
        lambda: not (_tenant_names(cluster) & set(names)),
        timeout=CONVERGE,
        interval=1,
    )


def burst(cluster: Cluster, prefix: str, first_code: int) -> tuple[list[str], list[str]]:
    """Create six tenants, change three of them and delete two right away: (kept, deleted)."""
    names = [f"t-f-{prefix}-{i}" for i in range(6)]
    for i, name in enumerate(names):
        cluster.apply(tenant(name, first_code + i))
    for name in names[:3]:
        index = names.index(name)
        cluster.apply(tenant(name, first_code + index, site="b.example.nl"))
    delete_tenants(cluster, names[4:])
    return names[:4], names[4:]


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_the_operator_stopped_in_the_middle_of_a_burst_loses_no_change(
    cluster: Cluster, operator: list[OperatorProcess], tmp_path: Path, sig: signal.Signals
) -> None:
    first = operator[0]
    base = 910 if sig is signal.SIGKILL else 920
    kept, deleted = burst(cluster, sig.name.lower(), base)
    wait_for("the operator mid-way", lambda: "applied Deployment" in first.log(), timeout=60)
    first.process.send_signal(sig)
    first.stop(kill=sig is signal.SIGKILL)
    operator[0] = start_operator(cluster, tmp_path / "second.log")
    try:
        seconds = converge(cluster, f"converged after {sig.name}", kept, deleted)
        record(f"operator {sig.name} mid-burst", seconds, tenants=len(kept) + len(deleted))
    finally:
        cleanup(cluster, kept + deleted)


def test_tenants_deleted_while_the_operator_is_down_are_finalised_on_its_return(
    cluster: Cluster, operator: list[OperatorProcess], tmp_path: Path
) -> None:
    names = [f"t-f-down-{i}" for i in range(4)]
    for i, name in enumerate(names):
        cluster.apply(tenant(name, 930 + i))
    converge(cluster, "the tenants up", names, [])
    operator[0].stop()
    delete_tenants(cluster, names[:2])
    operator[0] = start_operator(cluster, tmp_path / "back.log")
    try:
        seconds = converge(cluster, "deleted tenants finalised", names[2:], names[:2])
        record("tenants deleted while the operator was down", seconds, deleted=2)
    finally:
        cleanup(cluster, names)


# Per tenant, five children deleted and five fields the operator owns changed: 100 in all.
HAND_DELETES = (
    ("service", APP),
    ("configmap", f"{APP}-config"),
    ("networkpolicy", f"{APP}-postgresql"),
    ("deployment", f"{APP}-worker"),
    ("secret", f"{APP}-binding"),
)
HAND_EDITS = (
    ("deployment", APP, '[{"op": "replace", "path": "/spec/replicas", "value": 3}]'),
    (
        "statefulset",
        f"{APP}-postgresql",
        '[{"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "x:1"}]',
    ),
    (
        "service",
        f"{APP}-postgresql",
        '[{"op": "replace", "path": "/spec/ports/0/port", "value": 1}]',
    ),
    (
        "networkpolicy",
        "default-deny",
        '[{"op": "replace", "path": "/spec/policyTypes", "value": ["Ingress"]}]',
    ),
    ("networkpolicy", "allow-dns", '[{"op": "replace", "path": "/spec/egress", "value": []}]'),
)


def _edits_reverted(cluster: Cluster, namespace: str) -> bool:
    """Every field HAND_EDITS changed is the operator's value again."""
    web = get_json(cluster, "deployment", APP, "-n", namespace)
    database = get_json(cluster, "statefulset", f"{APP}-postgresql", "-n", namespace)
    service = get_json(cluster, "service", f"{APP}-postgresql", "-n", namespace)
    deny = get_json(cluster, "networkpolicy", "default-deny", "-n", namespace)
    dns = get_json(cluster, "networkpolicy", "allow-dns", "-n", namespace)
    return bool(
        web
        and database
        and service
        and deny
        and dns
        and web["spec"]["replicas"] == 1
        and database["spec"]["template"]["spec"]["containers"][0]["image"] != "x:1"
        and service["spec"]["ports"][0]["port"] == 5432
        and deny["spec"]["policyTypes"] == ["Ingress", "Egress"]
        and dns["spec"].get("egress")
    )


def test_a_hundred_children_deleted_or_edited_by_hand_are_repaired_once_each(
    cluster: Cluster, operator: list[OperatorProcess]
) -> None:
    names = [f"t-f-hand-{i}" for i in range(10)]
    for i, name in enumerate(names):
        cluster.apply(tenant(name, 960 + i))
    try:
        converge(cluster, "the tenants up", names, [])
        window = WriteWindow(cluster, clients=("cg-operator/", "kopf/"))
        started = time.monotonic()
        touched = 0
        for name in names:
            for kind, obj in HAND_DELETES:
                cluster.kubectl("delete", kind, obj, "-n", name, "--wait=false")
            for kind, obj, patch in HAND_EDITS:
                cluster.kubectl("patch", kind, obj, "-n", name, "--type=json", "-p", patch)
            touched += len(HAND_DELETES) + len(HAND_EDITS)
        seconds = converge(cluster, "every child repaired", names, [])
        wait_for(
            "every hand edit reverted",
            lambda: all(_edits_reverted(cluster, n) for n in names),
            timeout=CONVERGE,
            interval=1,
        )
        seconds = max(seconds, time.monotonic() - started)
        found = window.writes()
        # Writes to the children themselves; conditions and status of the tenants and
        # installations that report the repair are counted apart.
        repairs = sum(n for (_v, r, sub), n in found.items() if not sub and r not in OWN)
        status = sum(found.values()) - repairs
        record(
            "100 children deleted or edited by hand",
            seconds,
            children=touched,
            repair_writes=repairs,
            status_writes=status,
        )
        print(f"writes: {found}")
        # About one write per repaired child (a Service whose ports were changed is deleted
        # and created again: two).
        assert repairs <= touched * 1.3, f"{repairs} writes to repair {touched} children"
    finally:
        cleanup(cluster, names)


def _control_plane(action: str) -> None:
    """Stop or start the local control plane (etcd keeps its data)."""
    env = {**os.environ, "KWOK_WORKDIR": str(REPO / ".local" / "kwok")}
    bin_dir = subprocess.run(
        [str(REPO / "hack" / "bin-dir.sh")], capture_output=True, text=True, check=True
    ).stdout.strip()
    subprocess.run(
        [f"{bin_dir}/kwokctl", "--name", "cg-operator", action, "cluster"],
        env=env,
        check=True,
        capture_output=True,
        timeout=180,
    )


@pytest.mark.parametrize("down", [10, 60], ids=["10s", "60s"])
def test_the_api_server_going_away_and_coming_back_loses_no_change(
    cluster: Cluster, operator: list[OperatorProcess], down: int
) -> None:
    if Path(str(cluster.kubeconfig)) != LOCAL_KUBECONFIG:
        message = "stopping the API server needs the local control plane"
        if cluster_required():
            pytest.fail(message)
        pytest.skip(message)
    names = [f"t-f-api{down}-{i}" for i in range(3)]
    base = 950 + (0 if down == 10 else 5)
    for i, name in enumerate(names):
        cluster.apply(tenant(name, base + i))
    try:
        converge(cluster, "the tenants up", names, [])
        cluster.apply(tenant(names[0], base, site="c.example.nl"))
        _control_plane("stop")
        # The fault itself: the API server is away this long (nothing to wait for instead).
        time.sleep(down)
        _control_plane("start")
        wait_for(
            "the API server back",
            lambda: cluster.kubectl("get", "--raw", "/readyz", check=False).returncode == 0,
            timeout=120,
        )
        started = time.monotonic()
        cluster.apply(tenant(names[1], base + 1, site="d.example.nl"))

        def applied() -> bool:
            config = get_json(cluster, "configmap", f"{APP}-config", "-n", names[1])
            return (config.get("data") or {}).get("SITE_DOMAIN") == "d.example.nl"

        # The operator's part: the change made after the outage reaches the ConfigMap.
        wait_for("the change applied after the outage", applied, timeout=CONVERGE, interval=0.5)
        operator_seconds = time.monotonic() - started
        # Then everything Ready again, which also waits for the control plane's own
        # controllers (and KWOK's simulated kubelet) to catch up.
        converge(cluster, f"converged after {down}s without an API server", names, [])
        assert operator[0].process.poll() is None, "the operator exited"
        record(
            f"API server down {down}s",
            time.monotonic() - started,
            change_applied=round(operator_seconds, 1),
        )
    finally:
        cleanup(cluster, names)


def test_no_secret_value_appears_outside_its_secret(
    cluster: Cluster, operator: list[OperatorProcess]
) -> None:
    """After everything above: no generated or embedded-service secret value in any object's
    spec, status or annotations, in any event, or in the operator's log."""
    names = [f"t-f-scan-{i}" for i in range(2)]
    for i, name in enumerate(names):
        cluster.apply(tenant(name, 980 + i))
    try:
        converge(cluster, "the tenants up", names, [])
        # The secrets: generated settings and the embedded database's password (a binding's
        # host and URI are connection details that status and settings rightly show).
        values = set()
        for name in names:
            generated = get_json(cluster, "secret", f"{APP}-secrets", "-n", name)
            database = get_json(cluster, "secret", f"{APP}-postgresql", "-n", name)
            encoded = [*(generated.get("data") or {}).values(), database["data"]["password"]]
            values |= {base64.b64decode(e).decode() for e in encoded}
        assert values, "the scan found no secret values to look for"
        kinds = (
            "deployments,statefulsets,services,configmaps,networkpolicies,"
            "componentinstallations,events,persistentvolumeclaims"
        )
        texts = [json.dumps(get_json(cluster, kinds, "-n", n)) for n in names]
        texts += [json.dumps(get_json(cluster, "mt,cgc"))]
        texts.append(operator[0].log())
        leaks = [v[:4] + "..." for v in values for text in texts if v in text]
        assert not leaks, f"secret values found outside their Secrets: {leaks}"
    finally:
        cleanup(cluster, names)
