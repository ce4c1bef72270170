"""examples/ from empty to every example tenant Ready, twice on this machine in one run: with the
operator as a local process (as `make run` starts it) and with the operator installed by its
chart on the real node (hack/realnode-up.sh, hack/realnode/operator-values.yaml), and the ratio
of the two. Each side starts from a new local cluster (make cluster-down cluster-up), so do not
run it while anything else uses that cluster.

Usage: .venv/bin/python hack/measure_in_cluster.py [--rounds N]
Needs what `make test-realnode` needs (make binaries realnode-deps). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.realnode.conftest import OPERATOR_IMAGE, import_image  # noqa: E402
from tests.support.cluster import (  # noqa: E402
    Cluster,
    apply_examples,
    apply_tenant_secrets,
    check_local,
    example_tenants_ready,
    find_kubectl,
    wait_for,
)
from tests.support.operator_release import NAMESPACE, RELEASE, helm, install_operator  # noqa: E402

LIVENESS = "http://127.0.0.1:18282/healthz"


def _make(*targets: str) -> None:
    subprocess.run(["make", "-s", *targets], cwd=REPO, check=True, capture_output=True)


def _new_cluster() -> Cluster:
    """A new, empty local cluster with the CRDs Established."""
    _make("cluster-down")
    _make("cluster-up")
    kubeconfig = Path(
        subprocess.run(
            ["make", "-s", "kubeconfig"], cwd=REPO, check=True, capture_output=True, text=True
        ).stdout.strip()
    )
    context = check_local(yaml.safe_load(kubeconfig.read_text()), allow_remote=False)
    cluster = Cluster(kubeconfig, context, find_kubectl())
    cluster.kubectl("apply", "--server-side", "-f", str(REPO / "crds"))
    cluster.kubectl("wait", "--for=condition=Established", "-f", str(REPO / "crds"))
    return cluster


# Once the operator answers its liveness check (the pod's readiness probe, or our own wait for
# the local process), kopf may still be opening its watches. Both sides get the same settling
# time before the clock starts, so that it measures reconciliation, not start-up, on both.
SETTLE_SECONDS = 5


def _converge(cluster: Cluster) -> float:
    """Seconds from applying examples/ to every example tenant Ready (the operator live and
    settled)."""
    time.sleep(SETTLE_SECONDS)
    started = time.monotonic()
    apply_examples(cluster)
    apply_tenant_secrets(cluster)
    wait_for(
        "every example tenant Ready",
        lambda: example_tenants_ready(cluster),
        timeout=900,
        interval=0.5,
    )
    return time.monotonic() - started


def _live() -> bool:
    try:
        with urllib.request.urlopen(LIVENESS, timeout=1) as response:
            return response.status == 200
    except OSError:
        return False


def out_of_cluster(log: Path) -> float:
    cluster = _new_cluster()
    operator = subprocess.Popen(
        [str(REPO / ".venv" / "bin" / "cg-operator"), "run", "--liveness", LIVENESS],
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "KUBECONFIG": str(cluster.kubeconfig)},
    )
    try:
        wait_for("the operator live", _live, timeout=60)
        return _converge(cluster)
    finally:
        operator.terminate()
        operator.wait(timeout=30)


def in_cluster(image: Path) -> float:
    cluster = _new_cluster()
    _make("realnode-up")
    try:
        import_image(image)
        installed = install_operator(cluster, OPERATOR_IMAGE)
        if installed.returncode != 0:
            raise SystemExit(f"helm install failed:\n{installed.stderr}")
        return _converge(cluster)  # helm --wait: the operator pod is Ready
    finally:
        helm(cluster, "uninstall", RELEASE, "-n", NAMESPACE, "--wait")
        _make("realnode-down")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=1, help="pairs to run (default 1)")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="cg-in-cluster-"))
    image = work / "operator.tar"
    built = subprocess.run(
        [str(REPO / "hack" / "realnode" / "operator-image.sh"), str(image), OPERATOR_IMAGE],
        capture_output=True,
        text=True,
        check=False,
    )
    if built.returncode != 0:
        raise SystemExit(f"the operator image did not build:\n{built.stderr[-3000:]}")
    sides: dict[str, Callable[[], float]] = {
        "out of cluster (local process)": lambda: out_of_cluster(work / "operator.log"),
        "in cluster (chart, real node)": lambda: in_cluster(image),
    }
    times: dict[str, list[float]] = {name: [] for name in sides}
    for round_ in range(args.rounds):
        # Alternate which side goes first, so that a warming machine favours neither.
        order = list(sides) if round_ % 2 == 0 else list(reversed(sides))
        for name in order:
            times[name].append(sides[name]())
            print(f"round {round_ + 1}: {name} {times[name][-1]:.1f} s", file=sys.stderr)
    _make("cluster-down")
    _make("cluster-up")
    out, inside = (statistics.median(t) for t in times.values())
    print("| examples/ from empty to every example tenant Ready | median s | runs |\n|---|---|---|")
    for name, found in times.items():
        runs = ", ".join(f"{t:.1f}" for t in found)
        print(f"| {name} | {statistics.median(found):.1f} | {runs} |")
    print(f"| ratio in cluster / out of cluster | {inside / out:.2f} | |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
