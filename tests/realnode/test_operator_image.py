"""The operator's image, built from the project's own Dockerfile (hack/realnode/operator-image.sh:
buildah on a stand-in base from Debian's packages), run on the real node under the chart's
security context: non-root 65532, read-only root filesystem, no capabilities, /tmp an emptyDir.
Its console script, the App Store page's templates and the chart's command must all be there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.realnode.conftest import OPERATOR_IMAGE, node_pod
from tests.support.cluster import Cluster, get_json, wait_for

NAMESPACE = "realnode-operator-image"


def restricted_pod(name: str, script: str) -> dict[str, Any]:
    """The chart's pod and container security context (charts/cg-operator deployment.yaml)."""
    return node_pod(
        name,
        NAMESPACE,
        {
            "restartPolicy": "Never",
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 65532,
                "runAsGroup": 65532,
                "fsGroup": 65532,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "containers": [
                {
                    "name": "operator",
                    "image": OPERATOR_IMAGE,
                    "imagePullPolicy": "Never",
                    "command": ["sh", "-c", script],
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "readOnlyRootFilesystem": True,
                        "privileged": False,
                        "capabilities": {"drop": ["ALL"]},
                    },
                    "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108 - as the chart
                }
            ],
            "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
        },
    )


def test_the_image_from_the_dockerfile_runs_restricted(
    cluster: Cluster, operator_image: str, tmp_path: Path
) -> None:
    cluster.kubectl("create", "namespace", NAMESPACE, check=False)
    script = (
        "id -u && cg-operator --help >/dev/null && cg-operator run --help >/dev/null"
        " && cg-operator appstore --help >/dev/null"
        " && python -c 'import importlib.resources as r, cg_operator.appstore as a;"
        ' print(sorted(p.name for p in r.files(a).joinpath("templates").iterdir())[:1])\''
        " && echo image-ok"
    )
    cluster.apply(restricted_pod("image-check", script))
    phase = wait_for(
        "the check to finish",
        lambda: (
            get_json(cluster, "pod", "image-check", "-n", NAMESPACE).get("status", {}).get("phase")
            in ("Succeeded", "Failed")
            and get_json(cluster, "pod", "image-check", "-n", NAMESPACE)["status"]["phase"]
        ),
        timeout=120,
    )
    logs = cluster.kubectl("logs", "image-check", "-n", NAMESPACE).stdout
    assert phase == "Succeeded", logs
    assert logs.splitlines()[0] == "65532"
    assert "image-ok" in logs
    cluster.kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)
