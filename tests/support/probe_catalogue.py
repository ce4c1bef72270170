"""A catalogue entry and tenants for health tests: SaaS on a local server, SaaS pointing at the
cloud metadata address, and a small container."""

from __future__ import annotations

from typing import Any

COMPONENT = "probe-test"
CONTAINER_PORT = 18080


def component(port: int) -> dict[str, Any]:
    """A catalogue entry with a SaaS offering on the local server, one pointing at the cloud
    metadata address, and a small container offering."""
    return {
        "apiVersion": "appstore.commonground.nl/v1alpha1",
        "kind": "CGComponent",
        "metadata": {"name": COMPONENT},
        "spec": {
            "displayName": "Probe test",
            "description": "A component for the health tests.",
            "layer": "Service",
            "tier": "Plus",
            "lifecycle": "Beta",
            "steward": {"name": "Test"},
            "defaultVersion": "1.0.0",
            "versions": [
                {
                    "version": "1.0.0",
                    "container": {
                        "image": "registry.example/probe-test:1.0.0",
                        "port": CONTAINER_PORT,
                        "user": {"runAsUser": 1000},
                        "probes": {"readiness": "/ready"},
                    },
                }
            ],
            "offerings": [
                {
                    "name": "container",
                    "type": "Container",
                    "deliveryOrganisation": {"name": "Test"},
                },
                {
                    "name": "local-saas",
                    "type": "SaaS",
                    "deliveryOrganisation": {"name": "Test"},
                    "saas": {
                        "endpointTemplate": f"http://127.0.0.1:{port}/{{code}}/",
                        "allowedHosts": ["127.0.0.1"],
                        "healthPath": "/healthz",
                        "auth": {"type": "None"},
                    },
                },
                {
                    "name": "metadata-saas",
                    "type": "SaaS",
                    "deliveryOrganisation": {"name": "Test"},
                    "saas": {
                        "endpointTemplate": "http://169.254.169.254/{code}/",
                        "allowedHosts": ["169.254.169.254"],
                        "auth": {"type": "None"},
                    },
                },
            ],
        },
    }


def tenant(name: str, code: str, offering: str) -> dict[str, Any]:
    return {
        "apiVersion": "appstore.commonground.nl/v1alpha1",
        "kind": "MunicipalityTenant",
        "metadata": {"name": name},
        "spec": {
            "municipality": {"name": name.removeprefix("t-").title(), "code": code},
            "ring": "volger",
            "namespace": name,
            "deletionPolicy": "Delete",
            "components": [{"name": COMPONENT, "offering": offering}],
        },
    }
