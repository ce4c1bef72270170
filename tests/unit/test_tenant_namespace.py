"""Which namespace a tenant may use: its claim is decided by the namespace's own label, and the
namespace it was given stays its namespace when the municipality is renamed."""

from __future__ import annotations

from typing import Any

import pytest

from cg_operator.api.tenant import MunicipalityTenantSpec
from cg_operator.reconcile.tenant import ClaimState, assigned_namespace, namespace_claim

TENANT_LABEL = "appstore.commonground.nl/tenant"


def spec(name: str = "'s-Gravenhage", namespace: str | None = None) -> MunicipalityTenantSpec:
    wire: dict[str, Any] = {"municipality": {"name": name, "code": "GM0518"}}
    if namespace:
        wire["namespace"] = namespace
    return MunicipalityTenantSpec.model_validate(wire)


def namespace(name: str, tenant: str | None) -> dict[str, Any]:
    labels = {TENANT_LABEL: tenant} if tenant else {}
    return {"metadata": {"name": name, "labels": labels}}


def test_a_new_tenant_gets_the_namespace_its_spec_derives() -> None:
    assert assigned_namespace(spec(), None, set()) == "gm0518-s-gravenhage"


def test_a_renamed_municipality_keeps_the_namespace_it_was_given() -> None:
    renamed = spec("Den Haag")
    assert renamed.target_namespace() == "gm0518-den-haag"
    given = "gm0518-s-gravenhage"
    assert assigned_namespace(renamed, given, {given}) == given


@pytest.mark.parametrize(
    ("recorded", "labelled"),
    [
        ("kube-system", set()),  # a forged status naming a namespace that is not the tenant's
        ("gm0363-amsterdam", {"gm0518-s-gravenhage"}),  # another tenant's namespace
        (None, {"prod-db"}),  # a label alone, on a namespace the tenant never recorded
    ],
)
def test_neither_a_status_nor_a_label_alone_redirects_the_tenant(
    recorded: str | None, labelled: set[str]
) -> None:
    assert assigned_namespace(spec(), recorded, labelled) == "gm0518-s-gravenhage"


def test_only_a_namespace_labelled_for_the_tenant_is_its_own() -> None:
    assert namespace_claim("gm0518", "ns", None) == (ClaimState.ABSENT, "")
    assert namespace_claim("gm0518", "ns", namespace("ns", "gm0518")) == (ClaimState.OURS, "")
    state, reason = namespace_claim("gm0518", "ns", namespace("ns", "gm0363"))
    assert state is ClaimState.TAKEN
    assert reason == "namespace 'ns' belongs to tenant 'gm0363'"
    state, reason = namespace_claim("gm0518", "kube-system", namespace("kube-system", None))
    assert state is ClaimState.TAKEN
    assert reason == "namespace 'kube-system' exists and is not managed by cg-operator"
