"""State metrics are computed from the objects as they are (so they are right after a restart),
with bounded labels; API requests are labelled in the API server's own terms."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client.core import Metric

from cg_operator.k8s.client import request_labels
from cg_operator.metrics import FleetSnapshot, state_families


def installation(tenant: str, component: str, **conditions: str) -> dict[str, Any]:
    return {
        "metadata": {"name": component, "namespace": tenant},
        "spec": {"tenant": tenant, "component": component, "offering": "container"},
        "status": {
            "delivery": "Container",
            "observedVersion": "1.29.1",
            "conditions": [{"type": t, "status": s} for t, s in conditions.items()],
        },
    }


def samples(snapshot: FleetSnapshot) -> dict[str, list[tuple[dict[str, str], float]]]:
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    family: Metric
    for family in state_families(snapshot):
        out[family.name] = [(s.labels, s.value) for s in family.samples]
    return out


def test_ready_and_healthy_per_tenant_and_component() -> None:
    got = samples(
        FleetSnapshot(
            installations=[
                installation("gm0363-amsterdam", "open-zaak", Ready="True", Healthy="True"),
                installation("gm0363-amsterdam", "objecten", Ready="False", Healthy="False"),
                installation("gm0344-utrecht", "open-zaak", Ready="True", Healthy="Unknown"),
            ]
        )
    )
    ready = {(s["tenant"], s["component"]): v for s, v in got["cg_installation_ready"]}
    assert ready == {
        ("gm0363-amsterdam", "open-zaak"): 1.0,
        ("gm0363-amsterdam", "objecten"): 0.0,
        ("gm0344-utrecht", "open-zaak"): 1.0,
    }
    healthy = {(s["tenant"], s["component"]): v for s, v in got["cg_installation_healthy"]}
    # Unknown health is absent, not 0: an alert on == 0 must not fire before the first probe.
    assert healthy == {
        ("gm0363-amsterdam", "open-zaak"): 1.0,
        ("gm0363-amsterdam", "objecten"): 0.0,
    }
    info = got["cg_installation_info"][0][0]
    assert info == {
        "tenant": "gm0363-amsterdam",
        "component": "open-zaak",
        "version": "1.29.1",
        "delivery": "Container",
        "offering": "container",
    }


def test_tenants_per_ring_rollout_progress_and_expiry_times() -> None:
    with_expiry = installation("gm0363-amsterdam", "open-inwoner", Ready="True")
    with_expiry["status"]["lastProbe"] = {"certificateExpires": "2027-01-01T00:00:00Z"}
    with_expiry["status"]["credentialsExpire"] = "2027-02-01T00:00:00Z"
    tenants = [
        {"metadata": {"name": n}, "spec": {"ring": r}, "status": {"conditions": []}}
        for n, r in [("a", "koploper"), ("b", "volger"), ("c", "volger")]
    ]
    rollout = {
        "metadata": {"name": "open-zaak-1-30"},
        "spec": {"component": "open-zaak"},
        "status": {
            "waves": [{"name": "koplopers", "tenants": 4, "ready": 3}],
            "conditions": [{"type": "Progressing", "status": "True"}],
        },
    }
    got = samples(FleetSnapshot(installations=[with_expiry], tenants=tenants, rollouts=[rollout]))
    assert {s["ring"]: v for s, v in got["cg_tenants"]} == {"koploper": 1.0, "volger": 2.0}
    assert got["cg_rollout_wave_progress_ratio"] == [
        ({"rollout": "open-zaak-1-30", "component": "open-zaak", "wave": "koplopers"}, 0.75)
    ]
    conditions = {s["condition"]: v for s, v in got["cg_rollout_condition"]}
    assert conditions == {"Progressing": 1.0, "Paused": 0.0, "Complete": 0.0, "Failed": 0.0}
    assert got["cg_probe_certificate_expiry_timestamp_seconds"][0][1] == 1798761600.0
    assert got["cg_binding_credentials_expiry_timestamp_seconds"][0][1] == 1801440000.0


@pytest.mark.parametrize(
    ("method", "path", "content_type", "expected"),
    [
        ("GET", "/api/v1/namespaces/ns/secrets/x", None, ("get", "secrets")),
        (
            "GET",
            "/api/v1/namespaces/ns/persistentvolumeclaims",
            None,
            ("list", "persistentvolumeclaims"),
        ),
        ("GET", "/api/v1/namespaces/ns", None, ("get", "namespaces")),
        (
            "PATCH",
            "/apis/apps/v1/namespaces/ns/deployments/d",
            "application/apply-patch+yaml",
            ("apply", "deployments"),
        ),
        (
            "PATCH",
            "/apis/appstore.commonground.nl/v1alpha1/namespaces/n/componentinstallations/x/status",
            "application/merge-patch+json",
            ("patch", "componentinstallations/status"),
        ),
        (
            "PATCH",
            "/apis/appstore.commonground.nl/v1alpha1/municipalitytenants/t",
            None,
            ("patch", "municipalitytenants"),
        ),
        ("POST", "/api/v1/namespaces/ns/events", None, ("create", "events")),
        ("DELETE", "/api/v1/namespaces/ns/secrets/x", None, ("delete", "secrets")),
        (
            "GET",
            "/api/v1/namespaces/ns/services/oz:80/proxy/healthz",
            None,
            ("get", "services/proxy"),
        ),
    ],
)
def test_api_requests_are_labelled_by_verb_and_resource(
    method: str, path: str, content_type: str | None, expected: tuple[str, str]
) -> None:
    assert request_labels(method, f"https://127.0.0.1:6443{path}", content_type) == expected


def test_the_objects_the_operator_holds_are_counted_per_resource() -> None:
    got = samples(FleetSnapshot(cached_objects={"configmaps": 12, "secrets": 30}))
    held = {s["resource"]: v for s, v in got["cg_operator_cached_objects"]}
    assert held == {"configmaps": 12.0, "secrets": 30.0}
