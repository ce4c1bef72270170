"""A small exposed catalogue entry and tenants for the exposure tests."""

from __future__ import annotations

from typing import Any

from tests.support.cluster import Cluster, condition, get_json, wait_for

COMPONENT = "exposure-test"


def component() -> dict[str, Any]:
    """A container component exposed as `app.<domain>`, learning its address as SITE_DOMAIN
    and IS_HTTPS, with Django-style allowed hosts."""
    return {
        "apiVersion": "appstore.commonground.nl/v1alpha1",
        "kind": "CGComponent",
        "metadata": {"name": COMPONENT},
        "spec": {
            "displayName": "Exposure test",
            "layer": "Interaction",
            "lifecycle": "Beta",
            "exposure": {
                "alias": "app",
                "env": [
                    {"name": "SITE_DOMAIN", "value": "{host}"},
                    {"name": "IS_HTTPS", "value": "{https}"},
                ],
            },
            "defaultVersion": "1.0.0",
            "versions": [
                {
                    "version": "1.0.0",
                    "container": {
                        "image": "registry.example/exposure-test:1.0.0",
                        "port": 8000,
                        "user": {"runAsUser": 1000},
                        "probes": {"readiness": "/ready"},
                        "hosts": {"env": "ALLOWED_HOSTS"},
                    },
                }
            ],
            "offerings": [
                {"name": "container", "type": "Container", "deliveryOrganisation": {"name": "T"}}
            ],
        },
    }


def tenant(name: str, code: str, domain: str | None, host: str | None = None) -> dict[str, Any]:
    """A tenant in namespace `name` subscribing the component, under `domain`."""
    subscription: dict[str, Any] = {"name": COMPONENT, "offering": "container"}
    if host:
        subscription["host"] = host
    spec: dict[str, Any] = {
        "municipality": {"name": name.removeprefix("t-").title(), "code": code},
        "namespace": name,
        "deletionPolicy": "Delete",
        "components": [subscription],
    }
    if domain:
        spec["domain"] = domain
    return {
        "apiVersion": "appstore.commonground.nl/v1alpha1",
        "kind": "MunicipalityTenant",
        "metadata": {"name": name},
        "spec": spec,
    }


def ready_condition(cluster: Cluster, kind: str, name: str, namespace: str = "") -> dict[str, Any]:
    """The Ready condition of an object ({} while it has none or does not exist)."""
    scope = ["-n", namespace] if namespace else []
    return condition(get_json(cluster, kind, name, *scope), "Ready")


def delete_tenants(cluster: Cluster, *names: str) -> None:
    """Delete the tenants and wait until they and their namespaces are gone."""
    for name in names:
        cluster.kubectl("delete", "mt", name, "--ignore-not-found", "--wait=false")
    for name in names:
        wait_for(
            f"tenant {name} and its namespace gone",
            lambda n=name: not get_json(cluster, "mt", n) and not get_json(cluster, "ns", n),
            timeout=120,
            interval=0.5,
        )
