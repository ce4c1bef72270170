"""A catalogue entry with a configuration, and a configuration Job made to fail: for the
configuration tests and the RBAC proof (which must see a failed Job's log read)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.support.admission import unschedulable_job_pods
from tests.support.cluster import Cluster, condition, get_json, wait_for

COMPONENT = "configure-test"
LABEL_TENANT = "appstore.commonground.nl/tenant"


PEER = "configure-peer"


def component(
    data: str = "site: {host}\n", deadline: int = 3, parts: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """A small container component whose configuration takes at most `deadline` seconds."""
    configuration: dict[str, Any] = {
        "command": ["/app/configure", "--file"],
        "data": data,
        "deadlineSeconds": deadline,
    }
    if parts:
        configuration["parts"] = parts
    return entry(COMPONENT, configuration)


def entry(name: str, configuration: dict[str, Any] | None = None) -> dict[str, Any]:
    """A small container component named `name`, with this configuration (or none)."""
    container: dict[str, Any] = {
        "image": f"registry.example/{name}:1.0.0",
        "port": 8000,
        "user": {"runAsUser": 1000},
        "probes": {"readiness": "/ready"},
    }
    if configuration is not None:
        container["configuration"] = configuration
    return {
        "apiVersion": "appstore.commonground.nl/v1alpha1",
        "kind": "CGComponent",
        "metadata": {"name": name},
        "spec": {
            "displayName": name.replace("-", " ").capitalize(),
            "description": "A component for the configuration tests.",
            "layer": "Service",
            "tier": "Plus",
            "lifecycle": "Beta",
            "steward": {"name": "Test"},
            "defaultVersion": "1.0.0",
            "versions": [{"version": "1.0.0", "container": container}],
            "offerings": [
                {"name": "container", "type": "Container", "deliveryOrganisation": {"name": "T"}}
            ],
        },
    }


def _gated(cluster: Cluster, labels: dict[str, str]) -> bool:
    """Whether a Job's pod created now in a namespace with `labels` gets the gate (a dry run
    in a throwaway namespace carrying the labels)."""
    probe = f"t-{uuid.uuid4().hex[:10]}"
    namespace = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": probe, "labels": labels},
    }
    cluster.apply(namespace)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "probe", "namespace": probe, "labels": {"job-name": "probe"}},
        "spec": {"containers": [{"name": "c", "image": "registry.example/x:1"}]},
    }
    try:
        found = cluster.kubectl(
            "create", "--dry-run=server", "-o", "json", "-f", "-", input_text=json.dumps(pod)
        )
        return bool(json.loads(found.stdout)["spec"].get("schedulingGates"))
    finally:
        cluster.kubectl("delete", "namespace", probe, "--wait=false")


def make_job_pods_unschedulable(cluster: Cluster, tenant: str) -> str:
    """Keep the Job pods of `tenant`'s namespace Pending, once the policy is in effect;
    returns the policy's name for remove_policy."""
    name = f"cg-test-unschedulable-{tenant}"
    labels = {LABEL_TENANT: tenant}
    for obj in unschedulable_job_pods(name, labels):
        cluster.apply(obj)
    wait_for("the policy in effect", lambda: _gated(cluster, labels) or None, timeout=60)
    return name


def remove_policy(cluster: Cluster, name: str, tenant: str) -> None:
    """Delete the policy and its binding, and wait until it no longer applies."""
    cluster.kubectl(
        "delete",
        "mutatingadmissionpolicybinding,mutatingadmissionpolicy",
        name,
        "--ignore-not-found",
    )
    labels = {LABEL_TENANT: tenant}
    wait_for("the policy gone", lambda: not _gated(cluster, labels) or None, timeout=60)


def configured(cluster: Cluster, namespace: str) -> dict[str, Any]:
    """The Configured condition of the test component's installation ({} before it has one)."""
    return condition(get_json(cluster, "cgi", COMPONENT, "-n", namespace), "Configured")


def wait_configured(
    cluster: Cluster, namespace: str, reason: str, timeout: float
) -> dict[str, Any]:
    """Wait until the Configured condition has `reason`; return it."""
    return dict(
        wait_for(
            f"{COMPONENT} in {namespace} {reason}",
            lambda: (
                ((found := configured(cluster, namespace)).get("reason") == reason and found)
                or None
            ),
            timeout=timeout,
        )
    )
