"""Adoption counts what runs (observed versions), per version, and the tenants subscribed."""

from __future__ import annotations

from typing import Any

from cg_operator.api.component import OTHER_RING, RING_LIMIT, CGComponentStatus
from cg_operator.api.constants import LABEL_RING
from cg_operator.reconcile.adoption import adoption


def cgi(
    tenant: str, component: str, version: str | None, ready: bool, ring: str | None = "volger"
) -> dict[str, Any]:
    status: dict[str, Any] = {"conditions": [{"type": "Ready", "status": str(ready)}]}
    if version:
        status["observedVersion"] = version
    labels = {LABEL_RING: ring} if ring else {}
    return {
        "metadata": {"labels": labels},
        "spec": {"tenant": tenant, "component": component},
        "status": status,
    }


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


def test_each_version_is_counted_by_the_ring_its_installations_are_labelled_with() -> None:
    versions, _ = adoption(
        "open-zaak",
        [
            cgi("a", "open-zaak", "1.30.0", True, "koploper"),
            cgi("b", "open-zaak", "1.30.0", False, "koploper"),
            cgi("c", "open-zaak", "1.30.0", True, "volger"),
            cgi("d", "open-zaak", "1.29.1", True, "volger"),
            cgi("e", "open-zaak", "1.29.1", True, None),
        ],
    )
    by_version = {v.version: [(r.ring, r.tenants, r.ready) for r in v.rings] for v in versions}
    assert by_version == {
        "1.29.1": [(OTHER_RING, 1, 1), ("volger", 1, 1)],
        "1.30.0": [("koploper", 2, 1), ("volger", 1, 1)],
    }


def test_rings_beyond_the_schemas_limit_are_counted_together_and_none_is_lost() -> None:
    many = [cgi(f"t{i}", "open-zaak", "1.30.0", i % 2 == 0, f"ring-{i:02d}") for i in range(40)]
    many += [cgi("big", "open-zaak", "1.30.0", True, "ring-00")]  # the largest ring is kept
    (version,), _ = adoption("open-zaak", [*many, cgi("x", "open-zaak", "1.30.0", True, None)])
    assert len(version.rings) == RING_LIMIT
    assert {r.ring: r.tenants for r in version.rings}["ring-00"] == 2
    assert sum(r.tenants for r in version.rings) == version.tenants == 42
    assert sum(r.ready for r in version.rings) == version.ready
    # What the operator writes is what the CRD admits.
    CGComponentStatus.model_validate({"adoption": [version.wire()]})
