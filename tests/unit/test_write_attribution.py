"""Write counting in the tests: an audit log line counts as the operator's write only when a
client other than the control plane made it, to something the operator manages."""

from __future__ import annotations

import json
from collections import Counter

from tests.support.apiserver import OPERATOR_AGENTS, audit_writes, operator_writes


def _line(verb: str, resource: str, agent: str, subresource: str = "", stage: str = "") -> str:
    ref = {"resource": resource, "namespace": "gm0363-amsterdam", "name": "x"}
    if subresource:
        ref["subresource"] = subresource
    return json.dumps(
        {
            "kind": "Event",
            "stage": stage or "ResponseComplete",
            "verb": verb,
            "userAgent": agent,
            "objectRef": ref,
            "user": {"username": "kwok-admin"},
        }
    )


KCM = "kube-controller-manager/v1.36.3 (linux/amd64) kubernetes/$Format/namespace-controller"


def test_the_namespace_controller_emptying_a_namespace_is_not_the_operators_write() -> None:
    lines = [
        _line("deletecollection", "configmaps", KCM),
        _line("update", "namespaces", KCM, "finalize"),
        _line("update", "deployments", "kube-controller-manager/v1.36.3", "status"),
        _line("patch", "nodes", "kwok-controller/v0.8.0"),
        _line("patch", "componentinstallations", "kopf/1.45.2"),
        _line("update", "municipalitytenants", "cg-operator/0.9.0", "status"),
        _line("create", "configmaps", "cg-operator/0.9.0"),
    ]
    assert operator_writes(Counter(), audit_writes(lines)) == {
        ("PATCH", "componentinstallations", ""): 1,
        ("PUT", "municipalitytenants", "status"): 1,
        ("POST", "configmaps", ""): 1,
    }


def test_each_request_counts_once_and_reads_not_at_all() -> None:
    lines = [
        _line("create", "secrets", "cg-operator/0.9.0", stage="RequestReceived"),
        _line("create", "secrets", "cg-operator/0.9.0"),
        _line("get", "secrets", "cg-operator/0.9.0"),
        _line("watch", "secrets", "kopf/1.45.2"),
        "",
    ]
    assert audit_writes(lines) == {("POST", "secrets", ""): 1}


def test_narrowed_to_the_operators_clients_a_kubectl_apply_does_not_count() -> None:
    lines = [
        _line("patch", "municipalitytenants", "kubectl/v1.36.3 (linux/amd64)"),
        _line("patch", "configmaps", "cg-operator/0.9.0"),
        _line("patch", "componentinstallations", "kopf/1.45.2"),
    ]
    assert audit_writes(lines, OPERATOR_AGENTS) == {
        ("PATCH", "configmaps", ""): 1,
        ("PATCH", "componentinstallations", ""): 1,
    }
