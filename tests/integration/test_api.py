"""The CRDs install on a real API server, examples/ applies cleanly, `kubectl get cg` reads well."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.integration.conftest import OperatorProcess
from tests.support.cluster import EXAMPLE_FOLDERS, REPO, Cluster, apply_examples, wait_for

EXAMPLES = REPO / "examples"


def _documents(folder: Path) -> list[dict[str, object]]:
    docs = []
    for path in sorted(folder.rglob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


@pytest.fixture(scope="module")
def examples_applied(cluster: Cluster, crds: None) -> list[dict[str, object]]:
    result = apply_examples(cluster)
    assert "error" not in result.stderr.lower(), result.stderr
    return [doc for folder in EXAMPLE_FOLDERS for doc in _documents(EXAMPLES / folder)]


def test_examples_apply_cleanly_and_all_kinds_show_in_the_cg_category(
    cluster: Cluster, examples_applied: list[dict[str, object]]
) -> None:
    kinds = {str(d["kind"]) for d in examples_applied}
    assert {"CGComponent", "MunicipalityTenant", "ComponentRollout"} <= kinds
    listed = cluster.kubectl("get", "cg", "-o", "name").stdout.split()
    for doc in examples_applied:
        meta = doc["metadata"]
        assert isinstance(meta, dict)
        plural = {
            "CGComponent": "cgcomponent",
            "MunicipalityTenant": "municipalitytenant",
            "ComponentRollout": "componentrollout",
        }[str(doc["kind"])]
        assert f"{plural}.appstore.commonground.nl/{meta['name']}" in listed


def test_example_catalogue_is_real_and_large_enough(
    examples_applied: list[dict[str, object]],
) -> None:
    components = [d for d in examples_applied if d["kind"] == "CGComponent"]
    tenants = [d for d in examples_applied if d["kind"] == "MunicipalityTenant"]
    assert len(components) >= 15
    assert len(tenants) >= 6
    saas = [
        o
        for c in components
        for o in c["spec"]["offerings"]  # type: ignore[index]
        if o["type"] == "SaaS"
    ]
    assert len({o["deliveryOrganisation"]["name"] for o in saas}) >= 3


def test_printer_columns_show_what_people_need(
    cluster: Cluster, examples_applied: list[dict[str, object]]
) -> None:
    header = cluster.kubectl("get", "cgc").stdout.splitlines()[0].split()
    assert header[:5] == ["NAME", "DISPLAY", "NAME", "LAYER", "LIFECYCLE"]
    assert header[-2:] == ["READY", "AGE"]
    open_zaak = cluster.kubectl("get", "cgc", "open-zaak").stdout.splitlines()[1]
    assert "Open Zaak" in open_zaak
    assert "Service" in open_zaak
    tenants = cluster.kubectl("get", "mt").stdout.splitlines()
    assert tenants[0].split()[:5] == ["NAME", "CODE", "MUNICIPALITY", "RING", "NAMESPACE"]
    assert any("GM0363" in line and "Amsterdam" in line for line in tenants[1:])
    rollouts = cluster.kubectl("get", "cgr").stdout.splitlines()
    assert rollouts[0].split()[:5] == ["NAME", "COMPONENT", "VERSION", "WAVE", "PROGRESS"]


def test_valid_examples_get_no_invalid_spec(
    cluster: Cluster, examples_applied: list[dict[str, object]], module_operator: OperatorProcess
) -> None:
    """The operator validates every example against the catalogue and finds nothing wrong."""

    def components_ready() -> bool:
        items = json.loads(cluster.kubectl("get", "cgc", "-o", "json").stdout)["items"]
        return all(
            any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in i.get("status", {}).get("conditions", [])
            )
            for i in items
        )

    wait_for("every catalogue entry Ready", components_ready, timeout=60)
    for plural in ("municipalitytenants", "componentrollouts"):

        def observed(plural: str = plural) -> list[dict[str, object]] | None:
            items = json.loads(cluster.kubectl("get", plural, "-o", "json").stdout)["items"]
            done = all(
                i.get("status", {}).get("observedGeneration") == i["metadata"]["generation"]
                for i in items
            )
            return items if done else None

        for item in wait_for(f"the operator to observe every {plural}", observed, timeout=60):
            status = item["status"]
            assert isinstance(status, dict)
            reasons = [c["reason"] for c in status.get("conditions", [])]
            assert "InvalidSpec" not in reasons, (item["metadata"], status)
