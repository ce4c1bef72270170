"""The operator as the chart's ServiceAccount: its identity rendered from the chart under a
name of the test's choosing, installed, and a kubeconfig with a TokenRequest token for it (the
admin certificate is system:masters, which neither RBAC nor API Priority and Fairness limits)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from tests.support.chart import render
from tests.support.cluster import Cluster

# The chart's roles for people (user-roles.yaml), as against the operator's own ClusterRole.
USER_ROLE_SUFFIXES = ("-viewer", "-delivery-organisation", "-catalogue-editor", "-platform-team")


def chart_identity(name: str) -> list[dict[str, Any]]:
    """The chart's ServiceAccount, ClusterRole and ClusterRoleBinding, as rendered, renamed to
    `name` and put in namespace `name`."""
    objects = render(None, "--namespace", name)
    wanted = [
        o
        for o in objects
        if o["kind"] in ("ServiceAccount", "ClusterRole", "ClusterRoleBinding")
        and not o["metadata"]["name"].endswith(USER_ROLE_SUFFIXES)
    ]
    for obj in wanted:
        obj["metadata"]["name"] = obj["metadata"]["name"].replace("cg-operator", name)
        if obj["kind"] == "ClusterRoleBinding":
            obj["roleRef"]["name"] = name
            for subject in obj["subjects"]:
                subject["name"], subject["namespace"] = name, name
        if obj["kind"] == "ServiceAccount":
            obj["metadata"]["namespace"] = name
    return wanted


def token_kubeconfig(cluster: Cluster, token: str, path: Path) -> Path:
    """The admin kubeconfig's server and CA with the ServiceAccount's token instead."""
    admin = yaml.safe_load(cluster.kubeconfig.read_text())
    context = next(c for c in admin["contexts"] if c["name"] == cluster.context)["context"]
    entry = next(c for c in admin["clusters"] if c["name"] == context["cluster"])
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "proof", "cluster": entry["cluster"]}],
        "users": [{"name": "operator", "user": {"token": token}}],
        "contexts": [{"name": "proof", "context": {"cluster": "proof", "user": "operator"}}],
        "current-context": "proof",
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


@contextmanager
def service_account_kubeconfig(cluster: Cluster, name: str, workdir: Path) -> Iterator[Path]:
    """Install the chart's identity as `name`; yield a kubeconfig acting as it; remove it."""
    cluster.kubectl("create", "namespace", name, check=False)
    identity = chart_identity(name)
    for obj in identity:
        cluster.apply(obj)
    try:
        token = cluster.kubectl("create", "token", name, "-n", name, "--duration=2h").stdout.strip()
        kubeconfig = token_kubeconfig(cluster, token, workdir / "kubeconfig")
        who = cluster.kubectl("auth", "whoami", "--kubeconfig", str(kubeconfig), "-o", "json")
        username = json.loads(who.stdout)["status"]["userInfo"]["username"]
        assert username == f"system:serviceaccount:{name}:{name}", username
        yield kubeconfig
    finally:
        for obj in reversed(identity):
            cluster.kubectl(
                "delete",
                obj["kind"],
                obj["metadata"]["name"],
                "-n",
                name,
                "--ignore-not-found",
                check=False,
            )
        cluster.kubectl("delete", "namespace", name, "--ignore-not-found", "--wait=false")
