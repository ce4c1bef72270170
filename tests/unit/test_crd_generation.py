"""crds/ is generated from the models, structural, and says what kubectl users rely on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from cg_operator.api.crd import render_all
from cg_operator.api.kinds import ALL_KINDS

CRDS = Path(__file__).resolve().parents[2] / "crds"


def _walk(schema: dict[str, Any], path: str = "") -> list[tuple[str, dict[str, Any]]]:
    out = [(path, schema)]
    for name, sub in (schema.get("properties") or {}).items():
        out += _walk(sub, f"{path}.{name}")
    if isinstance(schema.get("items"), dict):
        out += _walk(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), dict):
        out += _walk(schema["additionalProperties"], f"{path}{{}}")
    return out


@pytest.fixture(scope="module")
def crds() -> dict[str, dict[str, Any]]:
    return {name: yaml.safe_load(text) for name, text in render_all().items()}


def test_committed_crds_match_the_models() -> None:
    for name, text in render_all().items():
        assert (CRDS / name).read_text() == text, f"crds/{name} is stale: run `make crds`"
    assert {p.name for p in CRDS.glob("*.yaml")} == set(render_all())


def test_schemas_are_structural(crds: dict[str, dict[str, Any]]) -> None:
    for name, crd in crds.items():
        root = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        for path, node in _walk(root):
            where = f"{name}{path}"
            assert not {"$ref", "anyOf", "allOf"} & set(node), where
            assert "type" in node or node.get("x-kubernetes-int-or-string"), f"{where}: no type"
            assert not ("properties" in node and "additionalProperties" in node), where
            assert "title" not in node, where
            if node.get("type") == "object" and path != ".metadata":
                # Without either, the API server prunes (or keeps blindly) what a user sets.
                assert {"properties", "additionalProperties"} & set(node), f"{where}: free-form"
            assert not node.get("x-kubernetes-preserve-unknown-fields"), where


def test_every_field_has_a_description(crds: dict[str, dict[str, Any]]) -> None:
    for name, crd in crds.items():
        root = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        spec = root["properties"]["spec"]
        for path, node in _walk(spec):
            if path and not path.endswith(("[]", "{}")):
                assert node.get("description"), f"{name} spec{path} has no description"


def test_names_short_names_category_and_status(crds: dict[str, dict[str, Any]]) -> None:
    short = {
        crd["spec"]["names"]["kind"]: crd["spec"]["names"]["shortNames"] for crd in crds.values()
    }
    assert short == {
        "CGComponent": ["cgc"],
        "MunicipalityTenant": ["mt"],
        "ComponentInstallation": ["cgi"],
        "ComponentRollout": ["cgr"],
    }
    for crd in crds.values():
        assert crd["spec"]["names"]["categories"] == ["cg"]
        version = crd["spec"]["versions"][0]
        assert version["subresources"] == {"status": {}}
        columns = [c["name"] for c in version["additionalPrinterColumns"]]
        assert "Ready" in columns
        assert columns[-1] == "Age"
    scopes = {crd["spec"]["names"]["kind"]: crd["spec"]["scope"] for crd in crds.values()}
    assert scopes["ComponentInstallation"] == "Namespaced"
    assert scopes["MunicipalityTenant"] == "Cluster"


def test_immutability_and_cross_field_rules_reach_the_schema(
    crds: dict[str, dict[str, Any]],
) -> None:
    tenant = crds["appstore.commonground.nl_municipalitytenants.yaml"]
    spec = tenant["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    code = spec["properties"]["municipality"]["properties"]["code"]
    code_rules = code["x-kubernetes-validations"]
    assert {"rule": "self == oldSelf", "message": code_rules[0]["message"]} == code_rules[0]
    assert "municipality.code is immutable" in code_rules[0]["message"]
    assert spec["properties"]["components"]["x-kubernetes-list-map-keys"] == ["name"]
    component = crds["appstore.commonground.nl_cgcomponents.yaml"]
    cspec = component["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert any("defaultVersion" in r["rule"] for r in cspec["x-kubernetes-validations"])


def test_every_kind_is_generated() -> None:
    assert len(render_all()) == len(ALL_KINDS) == 4


def test_crds_are_valid_apiextensions_objects(crds: dict[str, dict[str, Any]]) -> None:
    """The CRD manifests themselves pass the Kubernetes 1.36 OpenAPI schema, strictly."""
    for name, crd in crds.items():
        try:
            kubernetes_validate.validate(crd, "1.36.0", strict=True)
        except kubernetes_validate.ValidationError as error:  # pragma: no cover - message
            pytest.fail(f"{name}: {error}")
