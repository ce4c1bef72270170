"""The real-node tier: a real kubelet (containerd, runc) joined to the local control plane as
node 127.0.0.1 beside the KWOK nodes (hack/realnode-up.sh), running real processes. It starts
the node itself and fails, never skips, when the node cannot start; at the end it tears the
node down and fails when anything is left on the host."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import (  # noqa: F401 - shared fixtures and the failure report
    api,
    cluster,
    crds,
    pytest_runtest_makereport,
)
from tests.support.cluster import REPO, Cluster
from tests.support.tools import require_tool

NODE = "127.0.0.1"
TAINT = "cg-operator.dev/realnode"
WORKDIR = REPO / ".local" / "realnode"
# The name hack/realnode/operator-values.yaml expects.
OPERATOR_IMAGE = "cg-operator.local/cg-operator:dev"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here is marked `realnode` (and `integration`: it needs the control plane)."""
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.realnode)
            item.add_marker(pytest.mark.integration)


def node_pod(
    name: str, namespace: str, spec: dict[str, Any], *, tolerate: bool = True
) -> dict[str, Any]:
    """A pod for the real node: its network (hostNetwork: there is no pod network), its node
    selector and (unless `tolerate` is False) its taint's toleration, and no ServiceAccount
    token; `spec` adds the rest."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "hostNetwork": True,
            "nodeSelector": {TAINT: "true"},
            "tolerations": (
                [{"key": TAINT, "operator": "Exists", "effect": "NoSchedule"}] if tolerate else []
            ),
            "automountServiceAccountToken": False,
            **spec,
        },
    }


def hack(script: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(REPO / "hack" / script)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=REPO,
    )


@pytest.fixture(scope="session")
def realnode(cluster: Cluster) -> Iterator[str]:  # noqa: F811 - the shared fixture
    """The real node, Ready; torn down after the session, leaving nothing behind."""
    up = hack("realnode-up.sh")
    if up.returncode != 0:
        down = hack("realnode-down.sh")
        pytest.fail(f"the real node did not start:\n{up.stderr[-3000:]}\n{down.stderr[-1000:]}")
    yield NODE
    down = hack("realnode-down.sh")
    assert down.returncode == 0, f"realnode-down left something behind:\n{down.stderr}"


def host_leftovers() -> list[str]:
    """What of the real node is on the host: its processes, mounts, cgroups and folders."""
    found = []
    processes = subprocess.run(
        ["pgrep", "-f", f"{WORKDIR}/"], capture_output=True, text=True, check=False
    ).stdout.split()
    found += [f"process {pid}" for pid in processes]
    mounts = subprocess.run(
        ["findmnt", "-rn", "-o", "TARGET"], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    found += [f"mount {m}" for m in mounts if m.startswith(str(WORKDIR))]
    found += [f"cgroup {c}" for c in Path("/sys/fs/cgroup").glob("*/kubepods")]
    found += [
        f"path {p}"
        for p in (WORKDIR, Path("/var/lib/kubelet"), Path("/run/containerd"))
        if p.exists()
    ]
    return found


def busybox_image(tmp: Path, name: str) -> Path:
    """A one-file image: Debian's static busybox (package busybox-static) as /bin/busybox,
    with a page to serve under /www."""
    found = shutil.which("busybox")
    if found is None:
        pytest.fail("no static busybox: apt-get install busybox-static (make realnode-deps)")
    rootfs = tmp / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    (rootfs / "www").mkdir()
    (rootfs / "tmp").mkdir()
    shutil.copy(found, rootfs / "bin" / "busybox")
    (rootfs / "www" / "index.html").write_text("served by a real process\n")
    out = tmp / "busybox.tar"
    subprocess.run(
        [
            "python3",
            str(REPO / "hack" / "realnode" / "oci-image.py"),
            str(rootfs),
            name,
            str(out),
            "--cmd",
            "/bin/busybox",
            "sh",
        ],
        check=True,
    )
    return out


def import_image(archive: Path) -> None:
    """Into the node's containerd, where the kubelet finds it (nothing is pulled)."""
    subprocess.run(
        [
            require_tool("ctr"),
            "--address",
            str(WORKDIR / "containerd" / "containerd.sock"),
            "-n",
            "k8s.io",
            "images",
            "import",
            "--local",
            str(archive),
        ],
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="session")
def operator_image(realnode: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The operator's image from the project's Dockerfile (hack/realnode/operator-image.sh),
    imported into the node's containerd."""
    archive = tmp_path_factory.mktemp("operator-image") / "operator.tar"
    started = time.monotonic()
    built = subprocess.run(
        [str(REPO / "hack" / "realnode" / "operator-image.sh"), str(archive), OPERATOR_IMAGE],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    print(f"operator image built in {time.monotonic() - started:.0f} s: {built.stderr.strip()}")
    import_image(archive)
    return OPERATOR_IMAGE
