"""Children are named after their component; two subscriptions whose children would share a
name are refused on the tenant, and the naming rules match what is really planned."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from cg_operator.api.component import CGComponentSpec
from cg_operator.api.installation import ComponentInstallationSpec
from cg_operator.api.tenant import MunicipalityTenantSpec
from cg_operator.reconcile.installation import plan_installation
from cg_operator.reconcile.naming import child_names, collision_errors

REPO = Path(__file__).resolve().parents[2]
CATALOGUE = {
    path.stem: CGComponentSpec.model_validate(yaml.safe_load(path.read_text())["spec"])
    for path in (REPO / "examples" / "catalog").glob("*.yaml")
}


def entry(**container: Any) -> CGComponentSpec:
    return CGComponentSpec.model_validate(
        {
            "displayName": "App",
            "layer": "Service",
            "lifecycle": "Stable",
            "defaultVersion": "1.0.0",
            "versions": [
                {
                    "version": "1.0.0",
                    "container": {
                        "image": "example/app:1.0.0",
                        "port": 8000,
                        "user": {"runAsUser": 1000},
                        "probes": {"readiness": "/"},
                        **container,
                    },
                }
            ],
            "offerings": [
                {"name": "container", "type": "Container", "deliveryOrganisation": {"name": "X"}}
            ],
        }
    )


def tenant(*names: str) -> MunicipalityTenantSpec:
    return MunicipalityTenantSpec.model_validate(
        {
            "municipality": {"name": "Amsterdam", "code": "GM0363"},
            "components": [{"name": n, "offering": "container"} for n in names],
        }
    )


def test_a_component_named_like_anothers_backing_service_is_refused() -> None:
    catalogue = {"open": entry(backingServices=[{"type": "Redis"}]), "open-redis": entry()}
    [error] = collision_errors(tenant("open", "open-redis"), catalogue)
    assert error.field == "spec.components[1].name"
    assert "'open-redis' and 'open' would both name objects open-redis" in error.message


def test_a_worker_suffix_colliding_with_another_component_is_refused() -> None:
    catalogue = {"cola": entry(workers=[{"name": "b"}]), "cola-b": entry()}
    assert [e.field for e in collision_errors(tenant("cola", "cola-b"), catalogue)] == [
        "spec.components[1].name"
    ]


def test_the_example_tenants_have_no_collisions() -> None:
    for path in (REPO / "examples" / "tenants").glob("*.yaml"):
        spec = MunicipalityTenantSpec.model_validate(yaml.safe_load(path.read_text())["spec"])
        assert collision_errors(spec, CATALOGUE) == [], path.name


CONTAINERS = sorted(
    name for name, c in CATALOGUE.items() if any(o.type.value == "Container" for o in c.offerings)
)


@pytest.mark.parametrize("name", CONTAINERS)
def test_the_naming_rules_cover_every_name_a_container_installation_plans(name: str) -> None:
    component = CATALOGUE[name]
    offering = next(o for o in component.offerings if o.type.value == "Container")
    planned: set[str] = set()
    for version in component.versions:
        live = {
            "apiVersion": "appstore.commonground.nl/v1alpha1",
            "kind": "ComponentInstallation",
            "metadata": {"name": name, "namespace": "gm0363-amsterdam", "uid": "u"},
            "spec": {
                "tenant": "gm0363-amsterdam",
                "municipality": {"name": "Amsterdam", "code": "GM0363"},
                "component": name,
                "offering": offering.name,
                "version": version.version,
            },
        }
        spec = ComponentInstallationSpec.model_validate(live["spec"])
        plan = plan_installation(live, spec, component, {}, passwords={}, credentials=None)
        planned |= {o["metadata"]["name"] for o in [*plan.data, *plan.children]}
    assert planned <= child_names(name, component)
