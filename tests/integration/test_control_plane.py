"""The local control plane is a real Kubernetes: controllers, scheduler, kwok, GC, admission."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.support.apiserver import WriteWindow
from tests.support.cluster import REPO, Cluster, wait_for


def _deployment(name: str, replicas: int) -> client.V1Deployment:
    labels = {"app": name}
    return client.V1Deployment(
        metadata=client.V1ObjectMeta(name=name),
        spec=client.V1DeploymentSpec(
            replicas=replicas,
            selector=client.V1LabelSelector(match_labels=labels),
            template=client.V1PodTemplateSpec(
                metadata=client.V1ObjectMeta(labels=labels),
                spec=client.V1PodSpec(
                    containers=[client.V1Container(name="web", image="registry.invalid/web:1")]
                ),
            ),
        ),
    )


def test_deployment_with_two_replicas_becomes_available(
    api: client.ApiClient, namespace: str
) -> None:
    apps = client.AppsV1Api(api)
    started = time.monotonic()
    apps.create_namespaced_deployment(namespace, _deployment("smoke", 2))

    def available() -> client.V1Deployment | None:
        dep = apps.read_namespaced_deployment("smoke", namespace)
        conditions = {c.type: c.status for c in dep.status.conditions or []}
        if conditions.get("Available") == "True" and dep.status.ready_replicas == 2:
            return dep
        return None

    dep = wait_for("Deployment smoke Available with 2 ready replicas", available, timeout=120)
    print(f"deployment available after {time.monotonic() - started:.2f}s")
    assert dep.status.available_replicas == 2
    pods = client.CoreV1Api(api).list_namespaced_pod(namespace, label_selector="app=smoke").items
    assert len(pods) == 2
    assert all(p.spec.node_name for p in pods), "the scheduler bound every pod to a node"


def _namespace_with_content_deleted(core: client.CoreV1Api, name: str) -> None:
    """Create a namespace holding a ConfigMap, delete it, and wait until it is gone."""
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    core.create_namespaced_config_map(
        name, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="content"), data={"a": "b"})
    )
    core.delete_namespace(name)

    def gone() -> bool:
        try:
            core.read_namespace(name)
        except ApiException as error:
            return error.status == 404
        return False

    wait_for(f"namespace {name} to be deleted", gone, timeout=120)


def test_namespace_deletion_completes(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    name = "t-ns-deletion"
    _namespace_with_content_deleted(core, name)


def test_owned_configmap_is_garbage_collected(api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    owner = core.create_namespaced_config_map(
        namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="owner"))
    )
    reference = client.V1OwnerReference(
        api_version="v1", kind="ConfigMap", name="owner", uid=owner.metadata.uid
    )
    core.create_namespaced_config_map(
        namespace,
        client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name="owned", owner_references=[reference])
        ),
    )
    core.delete_namespaced_config_map("owner", namespace)

    def collected() -> bool:
        try:
            core.read_namespaced_config_map("owned", namespace)
        except ApiException as error:
            return error.status == 404
        return False

    wait_for("the garbage collector to delete the owned ConfigMap", collected, timeout=120)


def test_restricted_pod_security_rejects_a_privileged_pod(
    api: client.ApiClient, namespace: str
) -> None:
    core = client.CoreV1Api(api)
    core.patch_namespace(
        namespace, {"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "restricted"}}}
    )
    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(name="privileged"),
        spec=client.V1PodSpec(
            containers=[
                client.V1Container(
                    name="root",
                    image="registry.invalid/root:1",
                    security_context=client.V1SecurityContext(privileged=True),
                )
            ]
        ),
    )
    with pytest.raises(ApiException) as rejected:
        core.create_namespaced_pod(namespace, pod)
    assert rejected.value.status == 403
    message = json.loads(rejected.value.body)["message"]
    assert 'violates PodSecurity "restricted:latest"' in message
    assert "must not set securityContext.privileged=true" in message


def test_kubectl_talks_to_the_same_cluster(cluster: Cluster) -> None:
    version = cluster.kubectl("version", "-o", "yaml").stdout
    assert "serverVersion" in version
    nodes = cluster.kubectl("get", "nodes", "-o", "name").stdout.split()
    assert nodes, "the local cluster has at least one (fake) node"


def test_cluster_scripts_are_idempotent(cluster: Cluster) -> None:
    """up on a running cluster returns at once; down when nothing runs succeeds."""
    up = subprocess.run(
        [str(REPO / "hack" / "cluster-up.sh")], capture_output=True, text=True, check=False
    )
    if cluster.kubeconfig == REPO / ".local" / "kubeconfig":
        assert up.returncode == 0, up.stderr
        assert "already runs" in up.stderr
    down = subprocess.run(
        [str(REPO / "hack" / "cluster-down.sh")],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "CG_CLUSTER_NAME": "t-never-started"},
    )
    assert down.returncode == 0, down.stderr
    assert cluster.kubectl("get", "--raw", "/readyz").stdout == "ok"


def test_the_audit_log_tells_a_clients_writes_from_the_control_planes(
    cluster: Cluster, api: client.ApiClient
) -> None:
    """Write counts in the tests are attributed: the namespace controller emptying a namespace
    is not a write by the client that deleted it."""
    if not cluster.context.startswith("kwok-"):
        pytest.skip("only the local control plane from hack/cluster-up.sh keeps an audit log")
    window = WriteWindow(cluster)
    assert window.attributed, (
        "hack/cluster-up.sh has the API server keep an audit log; a cluster started before it "
        "did needs `make cluster-down cluster-up`"
    )
    core = client.CoreV1Api(api)
    name = "t-audit"
    _namespace_with_content_deleted(core, name)
    assert window.writes() == {
        ("POST", "namespaces", ""): 1,
        ("POST", "configmaps", ""): 1,
        ("DELETE", "namespaces", ""): 1,
    }
