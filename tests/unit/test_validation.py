"""Validation inside the operator: errors name the field, cross-object rules are caught."""

from __future__ import annotations

from typing import Any

import pytest

from cg_operator.api.component import CGComponentSpec
from cg_operator.api.rollout import ComponentRolloutSpec
from cg_operator.api.tenant import MunicipalityTenantSpec, default_namespace, slugify
from cg_operator.reconcile.validation import (
    FieldError,
    component_errors,
    duplicate_code_errors,
    parse_spec,
    rollout_errors,
    summary,
    tenant_errors,
)


def component(**overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "displayName": "Open Zaak",
        "layer": "Service",
        "lifecycle": "Stable",
        "defaultVersion": "1.30.0",
        "versions": [
            {
                "version": "1.30.0",
                "container": {
                    "image": "openzaak/open-zaak:1.30.0",
                    "port": 8000,
                    "user": {"runAsUser": 1000},
                    "probes": {"readiness": "/_healthz/readyz/"},
                },
            }
        ],
        "offerings": [
            {"name": "container", "type": "Container", "deliveryOrganisation": {"name": "Dimpact"}},
            {
                "name": "saas",
                "type": "SaaS",
                "deliveryOrganisation": {"name": "Zaakwerk Hosting B.V."},
                "saas": {
                    "endpointTemplate": "https://{slug}.openzaak.zaakwerk.example/",
                    "allowedHosts": ["*.openzaak.zaakwerk.example"],
                    "auth": {"type": "APIKey"},
                },
            },
        ],
    }
    spec.update(overrides)
    return spec


def catalogue(**specs: dict[str, Any]) -> dict[str, CGComponentSpec]:
    return {name: CGComponentSpec.model_validate(spec) for name, spec in specs.items()}


def tenant(*subscriptions: dict[str, Any]) -> MunicipalityTenantSpec:
    return MunicipalityTenantSpec.model_validate(
        {"municipality": {"name": "Amsterdam", "code": "GM0363"}, "components": list(subscriptions)}
    )


def test_schema_errors_name_the_field_in_api_server_form() -> None:
    spec = component()
    spec["versions"][0]["container"]["port"] = 0
    parsed, errors = parse_spec(CGComponentSpec, spec)
    assert parsed is None
    assert [e.field for e in errors] == ["spec.versions[0].container.port"]
    assert "greater than or equal to 1" in errors[0].message


def test_cross_field_rule_errors_drop_pydantic_prefix() -> None:
    _, errors = parse_spec(CGComponentSpec, component(defaultVersion="9.9.9"))
    assert errors == [FieldError("spec", "defaultVersion '9.9.9' is not one of versions")]


@pytest.mark.parametrize("image", ["openzaak/open-zaak", "openzaak/open-zaak:latest"])
def test_images_must_be_pinned(image: str) -> None:
    spec = component()
    spec["versions"][0]["container"]["image"] = image
    _, errors = parse_spec(CGComponentSpec, spec)
    assert errors
    assert errors[0].field == "spec.versions[0].container"
    assert "explicit tag or digest" in errors[0].message


def test_unknown_component_offering_and_version_are_named() -> None:
    known = catalogue(**{"open-zaak": component()})
    errors = tenant_errors(
        tenant(
            {"name": "open-zaak", "offering": "container", "version": "0.1.0"},
            {"name": "open-zaak-typo", "offering": "container"},
        ),
        known,
    )
    assert [e.field for e in errors] == ["spec.components[0].version", "spec.components[1].name"]
    assert "catalogue: 1.30.0" in errors[0].message
    errors = tenant_errors(tenant({"name": "open-zaak", "offering": "hosted"}), known)
    assert errors == [
        FieldError(
            "spec.components[0].offering",
            "'open-zaak' has no offering 'hosted' (allowed: container, saas)",
        )
    ]


def test_saas_with_credentials_needs_a_secret_reference() -> None:
    known = catalogue(**{"open-zaak": component()})
    errors = tenant_errors(tenant({"name": "open-zaak", "offering": "saas"}), known)
    assert [e.field for e in errors] == ["spec.components[0].credentialsSecretRef"]
    ok = tenant(
        {"name": "open-zaak", "offering": "saas", "credentialsSecretRef": {"name": "oz-key"}}
    )
    assert tenant_errors(ok, known) == []


def test_obsolete_components_cannot_be_subscribed() -> None:
    known = catalogue(**{"open-zaak": component(lifecycle="Obsolete")})
    errors = tenant_errors(tenant({"name": "open-zaak", "offering": "container"}), known)
    assert "Obsolete" in errors[0].message


def test_requirements_must_exist_and_not_cycle() -> None:
    a = component(requires=[{"component": "b"}])
    b = component(requires=[{"component": "a"}])
    known = catalogue(a=a, b=b)
    errors = component_errors("a", known["a"], known)
    assert errors == [FieldError("spec.requires", "requirements form a cycle: a -> b -> a")]
    alone = catalogue(a=a)
    assert component_errors("a", alone["a"], alone) == [
        FieldError("spec.requires[0].component", "no CGComponent named 'b'")
    ]
    self_ref = catalogue(a=component(requires=[{"component": "a"}]))
    assert "cannot require itself" in component_errors("a", self_ref["a"], self_ref)[0].message


def test_rollout_version_must_be_in_the_catalogue() -> None:
    known = catalogue(**{"open-zaak": component()})
    rollout = ComponentRolloutSpec.model_validate(
        {
            "component": "open-zaak",
            "version": "2.0.0",
            "waves": [{"name": "all", "tenantSelector": {}}],
            "approvedWaves": ["nope"],
        }
    )
    errors = rollout_errors(rollout, known)
    assert [e.field for e in errors] == ["spec.version"]
    missing = rollout.model_copy(update={"component": "gone"})
    assert rollout_errors(missing, known)[0].field == "spec.component"


def test_summary_keeps_messages_short() -> None:
    errors = [FieldError(f"spec.f{i}", "bad") for i in range(8)]
    assert summary(errors).endswith("(and 3 more)")


@pytest.mark.parametrize(
    ("code", "name", "namespace"),
    [
        ("GM0363", "Amsterdam", "gm0363-amsterdam"),
        ("GM0518", "'s-Gravenhage", "gm0518-s-gravenhage"),
        ("GM1729", "Gulpen-Wittem", "gm1729-gulpen-wittem"),
        ("GM0882", "Landgraaf", "gm0882-landgraaf"),
        ("GM0820", "Nuenen, Gerwen en Nederwetten", "gm0820-nuenen-gerwen-en-nederwetten"),
        ("GM0888", "Beek (L.)", "gm0888-beek-l"),
    ],
)
def test_default_namespace_is_a_dns_label(code: str, name: str, namespace: str) -> None:
    assert default_namespace(code, name) == namespace
    assert slugify("Súdwest-Fryslân") == "sudwest-fryslan"


def test_one_tenant_per_municipality_the_first_created_keeps_the_code() -> None:
    others = [
        ("gm0363-amsterdam", "GM0363", "2026-11-01T10:00:00Z"),
        ("gm0599-rotterdam", "GM0599", "2026-11-01T09:00:00Z"),
    ]
    later = duplicate_code_errors("amsterdam-2", "GM0363", "2026-12-01T10:00:00Z", others)
    assert [e.field for e in later] == ["spec.municipality.code"]
    assert "GM0363 is already tenant 'gm0363-amsterdam'" in later[0].message
    first = duplicate_code_errors(
        "gm0363-amsterdam",
        "GM0363",
        "2026-11-01T10:00:00Z",
        [*others, ("amsterdam-2", "GM0363", "2026-12-01T10:00:00Z")],
    )
    assert first == []
    # Created in the same second: the name decides, so exactly one keeps it.
    same = [("a-tenant", "GM0363", "2026-11-01T10:00:00Z")]
    assert duplicate_code_errors("b-tenant", "GM0363", "2026-11-01T10:00:00Z", same)
    assert not duplicate_code_errors(
        "a-tenant",
        "GM0363",
        "2026-11-01T10:00:00Z",
        [("b-tenant", "GM0363", "2026-11-01T10:00:00Z")],
    )
