"""Real processes on the real node: what KWOK only pretends. A restricted pod (non-root,
read-only root filesystem, all capabilities dropped, RuntimeDefault seccomp, a memory limit)
with a ConfigMap volume and the downward API starts, passes its readiness probe, answers on its
port, and `kubectl logs`/`exec` reach it; the node takes only pods that tolerate its taint."""

from __future__ import annotations

import json
import socket
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.realnode.conftest import NODE, TAINT, busybox_image, import_image, node_pod
from tests.support.cluster import Cluster, get_json, wait_for

IMAGE = "cg-operator.local/busybox:test"
NAMESPACE = "realnode-test"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pod(name: str, port: int, *, tolerate: bool = True) -> dict[str, Any]:
    return node_pod(
        name,
        NAMESPACE,
        {
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 65534,
                "runAsGroup": 65534,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": "web",
                    "image": IMAGE,
                    "imagePullPolicy": "Never",
                    "command": ["/bin/busybox", "sh", "-c"],
                    "args": [
                        'echo "starting as $(/bin/busybox id -u) in $POD_NAME";'
                        f" exec /bin/busybox httpd -f -v -p 127.0.0.1:{port} -h /www"
                    ],
                    "env": [
                        {
                            "name": "POD_NAME",
                            "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
                        }
                    ],
                    "readinessProbe": {
                        "httpGet": {"host": "127.0.0.1", "port": port, "path": "/"},
                        "periodSeconds": 1,
                    },
                    "resources": {
                        "requests": {"cpu": "10m", "memory": "16Mi"},
                        "limits": {"cpu": "100m", "memory": "32Mi"},
                    },
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "readOnlyRootFilesystem": True,
                        "capabilities": {"drop": ["ALL"]},
                    },
                    "volumeMounts": [{"name": "settings", "mountPath": "/www/settings"}],
                }
            ],
            "volumes": [{"name": "settings", "configMap": {"name": "settings"}}],
        },
        tolerate=tolerate,
    )


@pytest.fixture(scope="module")
def image(realnode: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    import_image(busybox_image(tmp_path_factory.mktemp("image"), IMAGE))
    return IMAGE


@pytest.fixture(scope="module")
def namespace(cluster: Cluster, realnode: str) -> Any:
    cluster.kubectl("create", "namespace", NAMESPACE, check=False)
    cluster.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "settings", "namespace": NAMESPACE},
            "data": {"greeting.txt": "hallo vanuit een ConfigMap\n"},
        }
    )
    yield NAMESPACE
    cluster.kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)


def test_the_real_node_is_ready_and_tainted(cluster: Cluster, realnode: str) -> None:
    node = get_json(cluster, "node", NODE)
    ready = {c["type"]: c["status"] for c in node["status"]["conditions"]}
    assert ready["Ready"] == "True"
    assert {"key": TAINT, "value": "true", "effect": "NoSchedule"} in node["spec"]["taints"]
    # kwok leaves it to its kubelet (kwok marks its own nodes with this annotation).
    assert "kwok.x-k8s.io/node" not in (node["metadata"].get("annotations") or {})


def test_a_restricted_pod_runs_a_real_process(
    cluster: Cluster, image: str, namespace: str, tmp_path: Path
) -> None:
    port = free_port()
    cluster.apply(pod("web", port))
    wait_for(
        "the pod Ready through its probe",
        lambda: (
            any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in get_json(cluster, "pod", "web", "-n", NAMESPACE)
                .get("status", {})
                .get("conditions", [])
            )
            or None
        ),
        timeout=60,
    )
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
        assert response.read() == b"served by a real process\n"
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/settings/greeting.txt", timeout=5) as r:
        assert r.read() == b"hallo vanuit een ConfigMap\n"
    logs = cluster.kubectl("logs", "web", "-n", NAMESPACE).stdout
    assert "starting as 65534 in web" in logs
    limit = cluster.kubectl(
        "exec",
        "web",
        "-n",
        NAMESPACE,
        "--",
        "/bin/busybox",
        "cat",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ).stdout.strip()
    assert int(limit) == 32 * 1024 * 1024
    denied = cluster.kubectl(
        "exec", "web", "-n", NAMESPACE, "--", "/bin/busybox", "touch", "/bin/x", check=False
    )
    assert denied.returncode != 0, "the root filesystem is read-only"
    status = get_json(cluster, "pod", "web", "-n", NAMESPACE)["status"]
    assert status["hostIP"] == NODE
    assert status["containerStatuses"][0]["restartCount"] == 0
    cluster.kubectl("delete", "pod", "web", "-n", NAMESPACE, "--grace-period=1")


def test_a_pod_without_the_toleration_is_not_scheduled_there(
    cluster: Cluster, image: str, namespace: str
) -> None:
    cluster.apply(pod("intolerant", free_port(), tolerate=False))
    reason = wait_for(
        "the scheduler's verdict",
        lambda: next(
            (
                c.get("message")
                for c in get_json(cluster, "pod", "intolerant", "-n", NAMESPACE)
                .get("status", {})
                .get("conditions", [])
                if c["type"] == "PodScheduled" and c["status"] == "False"
            ),
            None,
        ),
        timeout=30,
    )
    assert "untolerated taint" in json.dumps(reason)
    cluster.kubectl("delete", "pod", "intolerant", "-n", NAMESPACE, "--grace-period=0")
