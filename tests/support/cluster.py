"""Test support: find the cluster the tests may use, refuse one that is not local, drive kubectl."""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

import yaml

from cg_operator.reconcile.rollout import parse_duration

REPO = Path(__file__).resolve().parents[2]
LOCAL_KUBECONFIG = REPO / ".local" / "kubeconfig"
LOCAL_CONTEXT_PREFIXES = ("kwok-", "kind-", "k3d-", "minikube", "docker-desktop", "rancher-desktop")

T = TypeVar("T")


class ClusterRefusedError(Exception):
    """The kubeconfig names a cluster that the tests must not touch."""


def cluster_required() -> bool:
    """True when a missing cluster must fail the run instead of skipping (CI and on request)."""
    return os.environ.get("CI", "").lower() == "true" or os.environ.get("CG_REQUIRE_CLUSTER") == "1"


def is_local_server(server: str) -> bool:
    """True for an API server URL on the loopback interface."""
    host = urlparse(server).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_local(kubeconfig: dict[str, object], *, allow_remote: bool) -> str:
    """Return the current context's name; raise ClusterRefusedError when it is not a local cluster.

    Local means the API server listens on loopback, or the context is one that local cluster tools
    create (kind-, k3d-, kwok-, minikube, ...). Anything else needs CG_ALLOW_REMOTE_CLUSTER=1.
    """
    current = str(kubeconfig.get("current-context") or "")
    contexts = {c["name"]: c["context"] for c in kubeconfig.get("contexts") or []}  # type: ignore[attr-defined]
    clusters = {c["name"]: c["cluster"] for c in kubeconfig.get("clusters") or []}  # type: ignore[attr-defined]
    if current not in contexts:
        raise ClusterRefusedError(
            f"kubeconfig has no current context (current-context: {current!r})"
        )
    server = str(clusters.get(contexts[current].get("cluster"), {}).get("server", ""))
    if allow_remote or is_local_server(server) or current.startswith(LOCAL_CONTEXT_PREFIXES):
        return current
    raise ClusterRefusedError(
        f"context {current!r} points at {server}, which is not a local cluster; the tests create "
        "and delete objects there. Set CG_ALLOW_REMOTE_CLUSTER=1 to use it anyway."
    )


def wait_for(
    what: str, probe: Callable[[], T | None], *, timeout: float = 60.0, interval: float = 0.2
) -> T:
    """Poll probe() until it returns something other than None/False; fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last not in (None, False):
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


@dataclass(frozen=True)
class Cluster:
    """A reachable cluster: its kubeconfig path and a kubectl bound to it."""

    kubeconfig: Path
    context: str
    kubectl_binary: str

    def kubectl(
        self, *args: str, input_text: str | None = None, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl against this cluster; raise with its stderr when check and it fails."""
        result = subprocess.run(
            [self.kubectl_binary, "--kubeconfig", str(self.kubeconfig), *args],
            input=input_text,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}"
            )
        return result

    def apply(
        self, manifest: dict[str, object] | str, *, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """kubectl apply one manifest given as a dict or YAML text."""
        text = manifest if isinstance(manifest, str) else yaml.safe_dump(manifest)
        return self.kubectl("apply", "-f", "-", input_text=text, check=check)


def find_kubectl() -> str:
    """kubectl from the binary cache (matching the control plane), else from PATH."""
    cache = subprocess.run(
        [str(REPO / "hack" / "bin-dir.sh")], capture_output=True, text=True, check=True
    ).stdout.strip()
    built = Path(cache) / "kubectl"
    if built.is_file():
        return str(built)
    found = shutil.which("kubectl")
    if not found:
        raise FileNotFoundError("no kubectl: run `make binaries` or put kubectl on PATH")
    return found


def get_json(cluster: Cluster, *args: str) -> Any:
    """`kubectl get ... -o json` parsed; {} while the object does not exist (for wait loops)."""
    found = cluster.kubectl("get", *args, "-o", "json", check=False)
    return json.loads(found.stdout) if found.returncode == 0 else {}


def condition(obj: dict[str, Any], type_: str) -> dict[str, Any]:
    """A status condition of an object as a dict; {} when it has none of that type."""
    for found in (obj.get("status") or {}).get("conditions") or []:
        if found["type"] == type_:
            return dict(found)
    return {}


def ready_on(cluster: Cluster, namespace: str, installation: str, version: str) -> bool:
    """Whether an installation runs `version` (observed) and is Ready."""
    item = get_json(cluster, "cgi", installation, "-n", namespace)
    return (item.get("status") or {}).get("observedVersion") == version and condition(
        item, "Ready"
    ).get("status") == "True"


EXAMPLE_FOLDERS = ("catalog", "tenants", "rollouts")


def apply_examples(cluster: Cluster) -> subprocess.CompletedProcess[str]:
    """kubectl apply the example catalogue, tenants and rollouts (not their Secrets: see
    apply_tenant_secrets)."""
    folders = [arg for f in EXAMPLE_FOLDERS for arg in ("-f", str(REPO / "examples" / f))]
    return cluster.kubectl("apply", "--server-side", "-R", *folders)


def example_tenants() -> set[str]:
    """The names of the MunicipalityTenants examples/tenants/ defines."""
    return {
        d["metadata"]["name"]
        for path in (REPO / "examples" / "tenants").glob("*.yaml")
        for d in yaml.safe_load_all(path.read_text())
        if d and d.get("kind") == "MunicipalityTenant"
    }


def example_tenants_ready(cluster: Cluster) -> list[dict[str, Any]] | None:
    """Every tenant of examples/ as it is now, once all of them are Ready; else None."""
    wanted = example_tenants()
    found = [t for t in get_json(cluster, "mt")["items"] if t["metadata"]["name"] in wanted]
    ready = len(found) == len(wanted) and all(
        condition(t, "Ready").get("status") == "True" for t in found
    )
    return found if ready else None


def apply_tenant_secrets(cluster: Cluster, timeout: float = 300) -> None:
    """Apply examples/tenant-secrets/ once the operator has made each tenant namespace, as a
    municipality would hand over its credentials (hack/apply-tenant-secrets.sh does the same
    for `make run`)."""
    for path in sorted((REPO / "examples" / "tenant-secrets").glob("*.yaml")):
        namespaces = {d["metadata"]["namespace"] for d in yaml.safe_load_all(path.read_text()) if d}
        for namespace in sorted(namespaces):
            wait_for(
                f"namespace {namespace}",
                lambda n=namespace: (
                    cluster.kubectl("get", "namespace", n, "-o", "name", check=False).returncode
                    == 0
                ),
                timeout=timeout,
            )
        cluster.kubectl("apply", "--server-side", "-f", str(path))


def bake_ends_soon(rollout: dict[str, Any], margin: timedelta) -> bool:
    """Whether a wave's bake time ends (or ended without its pass) within `margin`: the pass
    it brings writes the rollout's status whoever runs then."""
    bake = {w["name"]: parse_duration(w.get("bakeTime") or "0s") for w in rollout["spec"]["waves"]}
    soon = datetime.now(UTC) + margin
    for wave in (rollout.get("status") or {}).get("waves") or []:
        since = wave.get("healthySince")
        if since and not wave.get("completedAt"):
            ends = datetime.fromisoformat(since.replace("Z", "+00:00")) + bake[wave["name"]]
            if ends <= soon:
                return True
    return False


def rollouts_at_rest(cluster: Cluster, margin: timedelta = timedelta(seconds=90)) -> bool:
    """No rollout moving a tenant or ending a bake within `margin`. The examples may have been
    applied by an earlier module, so the example rollout's 30 minute bake can end during a
    test that counts writes, and the pass it brings writes whoever runs then."""
    rollouts = get_json(cluster, "componentrollouts")["items"]
    moving = [
        tenant
        for rollout in rollouts
        for tenant in (rollout.get("status") or {}).get("tenants") or []
        if tenant.get("state") == "Updating"
    ]
    return not moving and not any(bake_ends_soon(r, margin) for r in rollouts)
