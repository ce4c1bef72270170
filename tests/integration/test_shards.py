"""Two operator shards on one control plane: each tenant is written by its own shard alone, a
rollout across both completes (the primary shard runs it, each shard moves its own tenants),
and a tenant relabelled for the other shard is handed over: the old shard finishes, relabels
its objects and names the new shard; the new one takes over only then, with no write of the
two overlapping and the installation Ready throughout.

Who wrote what comes from the API server's audit log (hack/cluster-up.sh records every write's
User-Agent; a shard names itself in its own: k8s/writer.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from cg_operator.api.constants import LABEL_SHARD
from tests.integration.conftest import OperatorProcess, start_operator
from tests.support.apiserver import audit_log
from tests.support.cluster import Cluster, condition, get_json, ready_on, wait_for

COMPONENT = "shard-test"
FIRST, NEXT, PINNED = "1.0.0", "1.1.0", "1.0.1"
MAIN_TENANT, EAST_TENANT = "t-sh-main", "t-sh-east"
TIMEOUT = 180


def component() -> dict[str, Any]:
    def version(number: str) -> dict[str, Any]:
        return {
            "version": number,
            "container": {
                "image": f"registry.example/shard-test:{number}",
                "port": 8000,
                "user": {"runAsUser": 1000},
                "probes": {"readiness": "/ready"},
                "resources": {"requests": {"cpu": "10m", "memory": "64Mi"}},
            },
        }

    return {
        "apiVersion": "appstore.commonground.nl/v1alpha1",
        "kind": "CGComponent",
        "metadata": {"name": COMPONENT},
        "spec": {
            "displayName": "Shard test",
            "description": "A component for the shard tests.",
            "layer": "Service",
            "tier": "Plus",
            "lifecycle": "Beta",
            "steward": {"name": "Test"},
            "defaultVersion": FIRST,
            "versions": [version(FIRST), version(NEXT), version(PINNED)],
            "offerings": [
                {"name": "container", "type": "Container", "deliveryOrganisation": {"name": "T"}}
            ],
        },
    }


def tenant(name: str, code: int, shard: str | None) -> dict[str, Any]:
    return {
        "apiVersion": "appstore.commonground.nl/v1alpha1",
        "kind": "MunicipalityTenant",
        "metadata": {"name": name, "labels": {LABEL_SHARD: shard} if shard else {}},
        "spec": {
            "municipality": {"name": name.removeprefix("t-sh-").title(), "code": f"GM{code:04d}"},
            "ring": "koploper",
            "namespace": name,
            "deletionPolicy": "Delete",
            "components": [{"name": COMPONENT, "offering": "container"}],
        },
    }


def rollout() -> dict[str, Any]:
    return {
        "apiVersion": "appstore.commonground.nl/v1alpha1",
        "kind": "ComponentRollout",
        "metadata": {"name": "shard-test-next"},
        "spec": {
            "component": COMPONENT,
            "version": NEXT,
            "waves": [
                {
                    "name": "everyone",
                    "tenantSelector": {
                        "matchLabels": {"appstore.commonground.nl/ring": "koploper"}
                    },
                    "maxParallel": 2,
                    "bakeTime": "1s",
                }
            ],
        },
    }


@dataclass(frozen=True)
class Write:
    """One write in the audit log: who (the shard in its User-Agent) wrote what, and when."""

    shard: str
    resource: str
    subresource: str
    namespace: str
    name: str
    at: float

    def concerns(self, tenant_name: str) -> bool:
        """Whether it wrote the tenant, its namespace or anything in it."""
        if self.resource == "municipalitytenants":
            return self.name == tenant_name
        if self.resource == "namespaces" and not self.namespace:
            return self.name == tenant_name
        return self.namespace == tenant_name


class AuditWindow:
    """The operators' writes from now on, read from the local API server's audit log."""

    def __init__(self, cluster: Cluster) -> None:
        path = audit_log(cluster)
        assert path is not None, "the shard tests attribute writes with the local audit log"
        self._path: Path = path
        self._offset = path.stat().st_size

    def writes(self) -> list[Write]:
        with self._path.open("rb") as log:
            log.seek(self._offset)
            text = log.read().decode()
        out = []
        for line in text[: text.rfind("\n") + 1].splitlines():
            event = json.loads(line)
            agent = str(event.get("userAgent", ""))
            if event.get("stage") != "ResponseComplete" or not agent.startswith("cg-operator/"):
                continue
            if int((event.get("responseStatus") or {}).get("code") or 0) >= 400:
                continue
            ref = event.get("objectRef") or {}
            out.append(
                Write(
                    shard=agent.partition(" shard/")[2],
                    resource=str(ref.get("resource", "")),
                    subresource=str(ref.get("subresource", "")),
                    namespace=str(ref.get("namespace", "")),
                    name=str(ref.get("name", "")),
                    at=_when(str(event["requestReceivedTimestamp"])),
                )
            )
        return out


def _when(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


@pytest.fixture(scope="module")
def shards(
    cluster: Cluster, crds: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[OperatorProcess, OperatorProcess, list[Write]]]:
    """Both shards running, both tenants Ready; the writes made on the way."""
    logs = tmp_path_factory.mktemp("shards")
    window = AuditWindow(cluster)
    main = start_operator(cluster, logs / "main.log", ["--shard", "main"])
    east = start_operator(cluster, logs / "east.log", ["--shard", "east"])
    cluster.apply(component())
    cluster.apply(tenant(MAIN_TENANT, 601, None))
    cluster.apply(tenant(EAST_TENANT, 602, "east"))
    try:
        for name in (MAIN_TENANT, EAST_TENANT):
            wait_for(f"{name} Ready", lambda n=name: _ready_on(cluster, n, FIRST), timeout=TIMEOUT)
        yield main, east, window.writes()
    finally:
        cluster.kubectl("delete", "cgr", "shard-test-next", "--ignore-not-found", "--wait=false")
        cluster.kubectl(
            "delete",
            "mt",
            MAIN_TENANT,
            EAST_TENANT,
            "--ignore-not-found",
            "--timeout=200s",
            check=False,
        )
        east.stop()
        main.stop()
        cluster.kubectl("delete", "cgc", COMPONENT, "--ignore-not-found", "--wait=false")


def _cgi(cluster: Cluster, tenant_name: str) -> dict[str, Any]:
    return get_json(cluster, "cgi", COMPONENT, "-n", tenant_name)


def _ready_on(cluster: Cluster, tenant_name: str, version: str) -> bool:
    return ready_on(cluster, tenant_name, COMPONENT, version)


def _idle_after_takeover(proc: OperatorProcess) -> bool:
    """Whether the operator's work queue ran dry after it took the east tenant over."""
    log = proc.log()
    taken = log.find(f"tenant {EAST_TENANT}: now reconciled by shard")
    return taken >= 0 and "work queue idle after" in log[taken:]


def _shards_writing(writes: list[Write], tenant_name: str) -> set[str]:
    return {w.shard for w in writes if w.concerns(tenant_name)}


def test_each_tenant_is_written_by_its_own_shard_alone(
    cluster: Cluster, shards: tuple[OperatorProcess, OperatorProcess, list[Write]]
) -> None:
    writes = shards[2]
    assert _shards_writing(writes, MAIN_TENANT) == {"main"}
    assert _shards_writing(writes, EAST_TENANT) == {"east"}
    # The catalogue's status sums up both shards' tenants: the primary alone writes it.
    catalogue = {w.shard for w in writes if w.resource == "cgcomponents"}
    assert catalogue == {"main"}

    def adopted() -> int:
        status = get_json(cluster, "cgc", COMPONENT).get("status") or {}
        return {a["version"]: a["tenants"] for a in status.get("adoption") or []}.get(FIRST, 0)

    # Counted by main from both shards' installations.
    wait_for("both tenants in the catalogue's adoption", lambda: adopted() == 2, timeout=30)
    for name, shard in ((MAIN_TENANT, "main"), (EAST_TENANT, "east")):
        assert get_json(cluster, "mt", name)["status"]["shard"] == shard
        header, row = cluster.kubectl("get", "mt", name, "-o", "wide").stdout.splitlines()[:2]
        assert row[header.index("SHARD") :].split()[0] == shard, "kubectl get mt -o wide"
        deployment = get_json(cluster, "deployment", COMPONENT, "-n", name)
        assert deployment["metadata"]["labels"][LABEL_SHARD] == shard


def test_a_rollout_across_both_shards_completes(
    cluster: Cluster, shards: tuple[OperatorProcess, OperatorProcess, list[Write]]
) -> None:
    window = AuditWindow(cluster)
    cluster.apply(rollout())
    wait_for(
        "the rollout Complete",
        lambda: (
            condition(get_json(cluster, "cgr", "shard-test-next"), "Complete").get("status")
            == "True"
        ),
        timeout=TIMEOUT,
    )
    for name in (MAIN_TENANT, EAST_TENANT):
        assert _ready_on(cluster, name, NEXT)
    writes = window.writes()
    assert {w.shard for w in writes if w.resource == "componentrollouts"} == {"main"}
    assert _shards_writing(writes, EAST_TENANT) == {"east"}
    assert _shards_writing(writes, MAIN_TENANT) == {"main"}


def test_a_moved_tenant_is_handed_over_without_a_gap_or_a_double_write(
    cluster: Cluster, shards: tuple[OperatorProcess, OperatorProcess, list[Write]]
) -> None:
    main = shards[0]
    ready_since = condition(_cgi(cluster, EAST_TENANT), "Ready")["lastTransitionTime"]
    window = AuditWindow(cluster)
    moved = time.monotonic()
    cluster.kubectl("label", "mt", EAST_TENANT, f"{LABEL_SHARD}=main", "--overwrite")
    wait_for(
        "the tenant handed over to main",
        lambda: (get_json(cluster, "mt", EAST_TENANT).get("status") or {}).get("shard") == "main",
        timeout=60,
    )
    handover = time.monotonic() - moved
    wait_for(
        "its Deployment labelled for main",
        lambda: (
            (
                get_json(cluster, "deployment", COMPONENT, "-n", EAST_TENANT)["metadata"]["labels"]
            ).get(LABEL_SHARD)
            == "main"
        ),
        timeout=30,
    )
    wait_for(
        "main to take the tenant",
        lambda: f"tenant {EAST_TENANT}: now reconciled by shard main" in main.log(),
        timeout=30,
    )
    wait_for("main's passes after the takeover", lambda: _idle_after_takeover(main), timeout=60)
    # Ready throughout: neither shard let the installation leave Ready during the handover.
    assert condition(_cgi(cluster, EAST_TENANT), "Ready")["lastTransitionTime"] == ready_since
    # The new shard reconciles it from now on: a version pinned is applied, by main alone.
    cluster.kubectl(
        "patch",
        "mt",
        EAST_TENANT,
        "--type=json",
        "-p",
        json.dumps([{"op": "add", "path": "/spec/components/0/version", "value": PINNED}]),
    )
    wait_for(
        "the pinned version Ready", lambda: _ready_on(cluster, EAST_TENANT, PINNED), timeout=TIMEOUT
    )
    writes = [w for w in window.writes() if w.concerns(EAST_TENANT)]
    by_east = [w for w in writes if w.shard == "east"]
    by_main = [w for w in writes if w.shard == "main"]
    assert by_east, "the old shard hands over by writing"
    assert by_main, "the new shard takes over"
    assert max(w.at for w in by_east) <= min(w.at for w in by_main), (
        "a write of the new shard came before the old shard's last: "
        f"{sorted((w.at, w.shard, w.resource, w.name) for w in writes)}"
    )
    # The old shard's writes are the handover's: labels and the tenant's status.
    assert {(w.resource, w.subresource) for w in by_east} <= {
        ("namespaces", ""),
        ("municipalitytenants", "status"),
        *((w.resource, "") for w in by_east if w.namespace == EAST_TENANT),
    }
    assert ("municipalitytenants", "status") in {(w.resource, w.subresource) for w in by_east}
    print(f"\nhandover took {handover:.1f} s; old shard {len(by_east)} writes, new {len(by_main)}")
    assert "did not hand it over" not in main.log()
