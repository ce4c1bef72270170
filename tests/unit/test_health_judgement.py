"""How health is judged and when a probe is recorded in status (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from cg_operator.api.component import CGComponentSpec, OfferingType
from cg_operator.api.conditions import find
from cg_operator.api.installation import ProbeReason, ProbeResult
from cg_operator.api.tenant import ComponentSummary
from cg_operator.reconcile.delivery import DELIVERIES, delivery_for
from cg_operator.reconcile.delivery.base import HealthRequest
from cg_operator.reconcile.exposure import route_admitted
from cg_operator.reconcile.health import (
    ContainerProbeMode,
    PublicEndpoint,
    Verdict,
    credentials_expiry,
    judge,
    probe_record,
    public_probe_url,
    resolve_mode,
    with_public,
)
from cg_operator.reconcile.tenant import tenant_conditions

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def catalogue_entry(name: str) -> CGComponentSpec:
    for path in (REPO / "examples" / "catalog").glob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "CGComponent" and doc["metadata"]["name"] == name:
                return CGComponentSpec.model_validate(doc["spec"])
    raise LookupError(name)


def result(reason: ProbeReason = ProbeReason.SUCCEEDED, at: datetime = NOW) -> ProbeResult:
    return ProbeResult(
        time=at,
        healthy=reason is ProbeReason.SUCCEEDED,
        reason=reason,
        message="GET answered 200 in 3 ms",
        url="https://x.example/healthz",
        latency_ms=3,
        status_code=200 if reason is ProbeReason.SUCCEEDED else None,
    )


def test_every_offering_type_has_a_delivery_of_that_type() -> None:
    assert {t: d.type for t, d in DELIVERIES.items()} == {t: t for t in OfferingType}


def test_auto_is_direct_in_the_cluster_and_off_outside() -> None:
    assert resolve_mode(ContainerProbeMode.AUTO, in_cluster=True) is ContainerProbeMode.DIRECT
    assert resolve_mode(ContainerProbeMode.AUTO, in_cluster=False) is ContainerProbeMode.OFF
    assert resolve_mode(ContainerProbeMode.PROXY, in_cluster=False) is ContainerProbeMode.PROXY


def container_target(mode: ContainerProbeMode) -> tuple[object, str]:
    open_zaak = catalogue_entry("open-zaak")
    return delivery_for(OfferingType.CONTAINER).health_target(
        HealthRequest(
            endpoint="http://open-zaak.gm0363-amsterdam.svc.cluster.local/",
            offering=open_zaak.offerings[0],
            component=open_zaak,
            version=open_zaak.default_version,
            service="open-zaak",
            namespace="gm0363-amsterdam",
            mode=mode,
        )
    )


def test_a_container_is_probed_on_its_readiness_path_through_its_service() -> None:
    open_zaak = catalogue_entry("open-zaak")
    version = open_zaak.version(open_zaak.default_version)
    assert version is not None
    assert version.container is not None
    readiness = version.container.probes.readiness
    direct, _ = container_target(ContainerProbeMode.DIRECT)
    assert direct.url == f"http://open-zaak.gm0363-amsterdam.svc.cluster.local:80{readiness}"  # type: ignore[attr-defined]
    proxied, _ = container_target(ContainerProbeMode.PROXY)
    assert proxied.url == (  # type: ignore[attr-defined]
        f"/api/v1/namespaces/gm0363-amsterdam/services/open-zaak:80/proxy{readiness}"
    )
    skipped, why = container_target(ContainerProbeMode.OFF)
    assert skipped is None
    assert "outside the cluster" in why


def test_a_saas_endpoint_is_probed_on_its_health_path_within_its_allowed_hosts() -> None:
    inwoner = catalogue_entry("open-inwoner")
    offering = next(o for o in inwoner.offerings if o.saas is not None)
    assert offering.saas is not None
    target, why = delivery_for(OfferingType.SAAS).health_target(
        HealthRequest(
            endpoint="https://utrecht.openinwoner.portaalwerk.example/",
            offering=offering,
            component=inwoner,
            version=inwoner.default_version,
            service="open-inwoner",
            namespace="gm0344-utrecht",
            mode=ContainerProbeMode.OFF,
        )
    )
    assert why == ""
    assert target is not None
    assert target.url == "https://utrecht.openinwoner.portaalwerk.example/" + (
        offering.saas.health_path.lstrip("/")
    )
    assert target.allowed_hosts == tuple(offering.saas.allowed_hosts)


@pytest.mark.parametrize(
    ("delivery", "available", "probe", "skipped", "expected"),
    [
        (OfferingType.CONTAINER, False, result(), "", ("False", "WorkloadUnavailable")),
        (OfferingType.CONTAINER, True, None, "outside", ("True", "WorkloadAvailable")),
        (OfferingType.CONTAINER, True, None, "", ("Unknown", "ProbePending")),
        (OfferingType.CONTAINER, True, result(), "", ("True", "ProbeSucceeded")),
        (OfferingType.CONTAINER, True, result(ProbeReason.TIMEOUT), "", ("False", "Timeout")),
        (OfferingType.SAAS, True, None, "", ("Unknown", "ProbePending")),
        (OfferingType.SAAS, True, result(ProbeReason.DNS_FAILURE), "", ("False", "DNSFailure")),
        (OfferingType.SAAS, True, None, "disabled", ("Unknown", "ProbeSkipped")),
    ],
)
def test_the_healthy_condition(
    delivery: OfferingType,
    available: bool,
    probe: ProbeResult | None,
    skipped: str,
    expected: tuple[str, str],
) -> None:
    verdict = judge(
        has_workloads=delivery_for(delivery).has_workloads,
        workloads_available=available,
        workloads_message="1/2 replicas ready",
        probe=probe,
        skipped=skipped,
    )
    assert (verdict.status, verdict.reason) == expected
    if skipped:
        assert skipped in verdict.message


def test_health_is_unknown_until_the_desired_version_runs() -> None:
    """An install or upgrade in progress is not an outage, and a rollout must not read health
    from before its change."""
    verdict = judge(
        has_workloads=True,
        workloads_available=False,
        workloads_message="0/1 replicas ready",
        probe=result(),
        skipped="",
        progressing=True,
    )
    assert (verdict.status, verdict.reason) == ("Unknown", "Progressing")


def test_a_steady_probe_keeps_the_recorded_one_so_status_is_not_rewritten() -> None:
    recorded = result(at=NOW - timedelta(minutes=3)).wire()
    assert probe_record(recorded, result(), NOW, timedelta(minutes=10)) is recorded


def test_a_changed_outcome_or_an_old_record_is_replaced() -> None:
    recorded = result(at=NOW - timedelta(minutes=3)).wire()
    failed = result(ProbeReason.TIMEOUT)
    assert probe_record(recorded, failed, NOW, timedelta(minutes=10)) == failed.wire()
    old = result(at=NOW - timedelta(minutes=11)).wire()
    assert probe_record(old, result(), NOW, timedelta(minutes=10)) == result().wire()
    assert probe_record(None, result(), NOW, timedelta(minutes=10)) == result().wire()
    assert probe_record(recorded, None, NOW, timedelta(minutes=10)) is recorded


@pytest.mark.parametrize(
    ("annotation", "expected"),
    [
        ("2027-03-01T00:00:00Z", "2027-03-01T00:00:00Z"),
        ("2027-03-01T02:00:00+02:00", "2027-03-01T00:00:00Z"),
        ("2027-03-01", "2027-03-01T00:00:00Z"),
        ("next tuesday", None),
        ("", None),
    ],
)
def test_credentials_expiry_comes_from_the_annotation(
    annotation: str, expected: str | None
) -> None:
    annotations = {"appstore.commonground.nl/expires": annotation} if annotation else {}
    assert credentials_expiry(annotations) == expected


def test_the_tenant_rolls_up_health_naming_the_unhealthy_installations() -> None:
    def summary(name: str, healthy: bool | None) -> ComponentSummary:
        return ComponentSummary(name=name, offering="o", ready=True, healthy=healthy)

    def healthy_of(*summaries: ComponentSummary) -> tuple[str, str, str]:
        found = find(tenant_conditions([], list(summaries), generation=1, now=NOW), "Healthy")
        assert found is not None
        return found.status, found.reason, found.message

    assert healthy_of(summary("open-zaak", True), summary("objecten", True))[:2] == (
        "True",
        "AllComponentsHealthy",
    )
    status, reason, message = healthy_of(summary("open-zaak", False), summary("objecten", None))
    assert (status, reason) == ("False", "ComponentsUnhealthy")
    assert "open-zaak" in message
    assert healthy_of(summary("open-zaak", True), summary("objecten", None))[:2] == (
        "Unknown",
        "HealthUnknown",
    )


# --- An exposed installation: its public URL ---------------------------------------------

PUBLIC = PublicEndpoint("https://zaken.amsterdam.nl/", "zaken.amsterdam.nl", admitted=True)


def test_an_exposed_installation_is_healthy_only_when_its_public_url_answers() -> None:
    inside = Verdict("True", "ProbeSucceeded", "in-cluster readiness answered")
    pending = with_public(inside, None, PUBLIC.url)
    assert (pending.status, pending.reason) == ("Unknown", "ProbePending")
    assert PUBLIC.url in pending.message
    assert with_public(inside, result(), PUBLIC.url) == inside
    failed = with_public(inside, result(ProbeReason.TLS_ERROR), PUBLIC.url)
    assert (failed.status, failed.reason) == ("False", "TLSError")
    assert failed.message.startswith("public URL https://zaken.amsterdam.nl/: ")


def test_an_installation_unhealthy_inside_is_not_hidden_by_its_public_url() -> None:
    inside = Verdict("False", "WorkloadUnavailable", "0/1 available")
    assert with_public(inside, result(), PUBLIC.url) == inside


def test_the_public_probe_asks_the_readiness_path_at_the_public_address() -> None:
    entry = catalogue_entry("open-zaak")
    url = public_probe_url(PUBLIC, entry, "1.30.0")
    readiness = entry.version("1.30.0").container.probes.readiness  # type: ignore[union-attr]
    assert url == "https://zaken.amsterdam.nl" + readiness


@pytest.mark.parametrize(
    ("route", "admitted"),
    [
        ({"kind": "Ingress", "status": {}}, False),
        (
            {"kind": "Ingress", "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.7"}]}}},
            True,
        ),
        ({"kind": "HTTPRoute", "status": {"parents": []}}, False),
        (
            {
                "kind": "HTTPRoute",
                "status": {"parents": [{"conditions": [{"type": "Accepted", "status": "False"}]}]},
            },
            False,
        ),
        (
            {
                "kind": "HTTPRoute",
                "status": {"parents": [{"conditions": [{"type": "Accepted", "status": "True"}]}]},
            },
            True,
        ),
        (None, False),
    ],
)
def test_a_route_counts_once_a_controller_took_it_up(route: Any, admitted: bool) -> None:
    assert route_admitted(route) is admitted
