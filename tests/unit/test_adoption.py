"""Adoption counts what runs (observed versions), per version, and the tenants subscribed."""

from __future__ import annotations

from typing import Any

from cg_operator.reconcile.adoption import adoption


def cgi(tenant: str, component: str, version: str | None, ready: bool) -> dict[str, Any]:
    status: dict[str, Any] = {"conditions": [{"type": "Ready", "status": str(ready)}]}
    if version:
        status["observedVersion"] = version
    return {"spec": {"tenant": tenant, "component": component}, "status": status}


def test_counts_observed_versions_and_readiness() -> None:
    versions, tenants = adoption(
        "open-zaak",
        [
            cgi("a", "open-zaak", "1.29.1", True),
            cgi("b", "open-zaak", "1.30.0", False),
            cgi("c", "open-zaak", "1.30.0", True),
            cgi("d", "open-zaak", None, False),
            cgi("a", "objecten", "3.6.1", True),
        ],
    )
    assert [(v.version, v.tenants, v.ready) for v in versions] == [
        ("1.29.1", 1, 1),
        ("1.30.0", 2, 1),
    ]
    assert tenants == 4
