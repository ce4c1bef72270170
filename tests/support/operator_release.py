"""The operator installed with its chart on the real node (make realnode-up): `helm install` with
the chart's defaults plus only what that node forces (hack/realnode/operator-values.yaml). Used
by the real-node tier and by hack/measure_in_cluster.py."""

from __future__ import annotations

import os
import subprocess

import yaml

from tests.support.chart import helm_binary
from tests.support.cluster import REPO, Cluster

RELEASE, NAMESPACE = "cg-real", "cg-real"


def helm(cluster: Cluster, *args: str) -> subprocess.CompletedProcess[str]:
    """helm against the cluster, with its config and cache under .local."""
    home = REPO / ".local" / "helm-realnode"
    env = {
        **os.environ,
        **{f"HELM_{k}_HOME": str(home / k.lower()) for k in ("CONFIG", "CACHE", "DATA")},
    }
    return subprocess.run(
        [helm_binary(), "--kubeconfig", str(cluster.kubeconfig), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def api_server_port(cluster: Cluster) -> str:
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    server = config["clusters"][0]["cluster"]["server"]
    return str(server.rsplit(":", 1)[1])


def install_operator(cluster: Cluster, image: str, *extra: str) -> subprocess.CompletedProcess[str]:
    """`helm install --wait` of the chart into NAMESPACE with the local `image` (already in the
    node's containerd) and `extra` helm arguments; the CRDs are expected in place."""
    cluster.kubectl("create", "namespace", NAMESPACE, check=False)
    return helm(
        cluster,
        "install",
        RELEASE,
        str(REPO / "charts" / "cg-operator"),
        "-n",
        NAMESPACE,
        "-f",
        str(REPO / "hack" / "realnode" / "operator-values.yaml"),
        "--set",
        f"podNetwork.apiServer.port={api_server_port(cluster)}",
        "--set",
        f"image.tag={image.rsplit(':', 1)[1]}",
        *extra,
        "--skip-crds",
        "--wait",
        "--timeout",
        "180s",
    )
