"""A cluster's own admission policies, the way a policy engine might have them: one refusing the
operator's ConfigMaps, one keeping Job pods from being scheduled; by namespace labels."""

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


def unschedulable_job_pods(name: str, namespace_labels: dict[str, str]) -> list[dict[str, Any]]:
    """A MutatingAdmissionPolicy `name` giving every Job's pod created in the namespaces
    carrying `namespace_labels` a scheduling gate nobody lifts: the pod stays Pending (KWOK
    would otherwise complete it), so the Job fails once its deadline passes. Nothing of the
    operator's own objects is changed, so it sees no drift."""
    return [
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingAdmissionPolicy",
            "metadata": {"name": name},
            "spec": {
                "failurePolicy": "Fail",
                "reinvocationPolicy": "Never",
                "matchConstraints": {
                    "resourceRules": [
                        {
                            "apiGroups": [""],
                            "apiVersions": ["v1"],
                            "operations": ["CREATE"],
                            "resources": ["pods"],
                        }
                    ]
                },
                "matchConditions": [
                    {
                        "name": "job-pods",
                        "expression": "has(object.metadata.labels) && "
                        "'job-name' in object.metadata.labels",
                    }
                ],
                "mutations": [
                    {
                        "patchType": "ApplyConfiguration",
                        "applyConfiguration": {
                            "expression": "Object{spec: Object.spec{schedulingGates: "
                            '[Object.spec.schedulingGates{name: "cg-operator.test/held"}]}}'
                        },
                    }
                ],
            },
        },
        {
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingAdmissionPolicyBinding",
            "metadata": {"name": name},
            "spec": {
                "policyName": name,
                "matchResources": {"namespaceSelector": {"matchLabels": namespace_labels}},
            },
        },
    ]
