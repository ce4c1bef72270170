"""A cluster's own admission policy refusing the operator's ConfigMaps, the way a policy engine
might: a ValidatingAdmissionPolicy and its binding, by namespace labels."""

from __future__ import annotations

from typing import Any

REFUSE_ALL = "false"


def refusing_configmaps(
    name: str, namespace_labels: dict[str, str], message: str, expression: str = REFUSE_ALL
) -> list[dict[str, Any]]:
    """A policy `name` refusing ConfigMap creates and updates (those failing `expression`)
    in the namespaces carrying `namespace_labels`, with `message`."""
    return [
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": name},
            "spec": {
                "failurePolicy": "Fail",
                "matchConstraints": {
                    "resourceRules": [
                        {
                            "apiGroups": [""],
                            "apiVersions": ["v1"],
                            "operations": ["CREATE", "UPDATE"],
                            "resources": ["configmaps"],
                        }
                    ]
                },
                "validations": [{"expression": expression, "message": message}],
            },
        },
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": name},
            "spec": {
                "policyName": name,
                "validationActions": ["Deny"],
                "matchResources": {"namespaceSelector": {"matchLabels": namespace_labels}},
            },
        },
    ]
