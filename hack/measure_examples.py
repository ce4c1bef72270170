"""Measure examples/ from empty: time until every tenant is Ready, the operator's API writes for
it, the writes of an idle minute and of a restart, and the objects per installation.

Usage: KUBECONFIG=$(make -s kubeconfig) .venv/bin/python hack/measure_examples.py
Runs against a cluster where examples/ is not applied yet (make cluster-down cluster-up).
Prints a Markdown table.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.apiserver import OPERATOR_AGENTS, WriteWindow  # noqa: E402
from tests.support.cluster import (  # noqa: E402
    Cluster,
    apply_examples,
    apply_tenant_secrets,
    check_local,
    find_kubectl,
    wait_for,
)


def _ready_tenants(cluster: Cluster) -> int:
    items = json.loads(cluster.kubectl("get", "mt", "-o", "json").stdout)["items"]
    return sum(
        any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in (t.get("status") or {}).get("conditions") or []
        )
        for t in items
    )


def _operator(log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            str(REPO / ".venv/bin/cg-operator"),
            "run",
            "--liveness",
            "http://127.0.0.1:18181/healthz",
        ],
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )


def _rows(title: str, writes: dict[tuple[str, str, str], int]) -> None:
    print(f"| {title} | {sum(writes.values())} |")
    for (verb, resource, sub), count in sorted(writes.items()):
        print(f"| &nbsp; {verb} {resource}{'/' + sub if sub else ''} | {count} |")


def main() -> int:
    """Run the measurement and print the table."""
    kubeconfig = Path(os.environ["KUBECONFIG"])
    context = check_local(yaml.safe_load(kubeconfig.read_text()), allow_remote=False)
    cluster = Cluster(kubeconfig, context, find_kubectl())
    cluster.kubectl("apply", "--server-side", "-f", str(REPO / "crds"))
    cluster.kubectl("wait", "--for=condition=Established", "-f", str(REPO / "crds"))
    tenants = len(list((REPO / "examples" / "tenants").glob("*.yaml")))
    logs = REPO / ".local"
    operator = _operator(logs / "measure-operator.log")
    time.sleep(3)  # let it start watching, so the clock measures reconciliation, not start-up
    converging = WriteWindow(cluster, OPERATOR_AGENTS)
    started = time.monotonic()
    apply_examples(cluster)
    apply_tenant_secrets(cluster)
    wait_for(
        "every tenant Ready",
        lambda: _ready_tenants(cluster) == tenants or None,
        timeout=900,
        interval=0.5,
    )
    converge_s = time.monotonic() - started
    converge_writes = converging.writes()
    time.sleep(10)  # let trailing status updates land before the idle window
    idle = WriteWindow(cluster, OPERATOR_AGENTS)
    time.sleep(60)
    idle_writes = idle.writes()
    operator.terminate()
    operator.wait()
    restarting = WriteWindow(cluster, OPERATOR_AGENTS)
    log = logs / "measure-restart.log"
    operator = _operator(log)
    wait_for(
        "the restarted operator to drain its queue",
        lambda: "work queue idle" in log.read_text(),
        timeout=300,
    )
    restart_writes = restarting.writes()
    operator.terminate()
    operator.wait()
    cgis = json.loads(cluster.kubectl("get", "cgi", "-A", "-o", "json").stdout)["items"]
    per_kind: Counter[str] = Counter()
    for cgi in cgis:
        per_kind[cgi["status"]["delivery"]] += 1
    sizes = sorted(len(c["status"]["inventory"]) for c in cgis)
    by_delivery = {
        d: sorted(len(c["status"]["inventory"]) for c in cgis if c["status"]["delivery"] == d)
        for d in per_kind
    }
    print("| measure | value |\n|---|---|")
    print(f"| tenants / installations | {tenants} / {len(cgis)} ({dict(per_kind)}) |")
    print(f"| examples/ from empty to every tenant Ready | {converge_s:.1f} s |")
    _rows("writes for it (see note on control-plane writes)", converge_writes)
    _rows("writes in an idle minute", idle_writes)
    _rows("writes for a restart (re-list, reconcile all)", restart_writes)
    for delivery, counts in by_delivery.items():
        print(
            f"| objects per {delivery} installation (min/median/max) | "
            f"{counts[0]} / {counts[len(counts) // 2]} / {counts[-1]} |"
        )
    print(f"| objects of all installations | {sum(sizes)} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
