"""The benchmark's pure parts: the fleet is deterministic and realistic, and the raw applier
writes byte-for-byte what the operator's planning produces."""

from __future__ import annotations

import json
import sys
import uuid
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from cg_operator.api.component import CGComponentSpec
from cg_operator.api.installation import ComponentInstallationSpec
from cg_operator.api.tenant import MunicipalityTenantSpec
from cg_operator.reconcile.configuration import credential_pairs, credential_secret_name
from cg_operator.reconcile.installation import plan_installation
from cg_operator.reconcile.tenant import plan_tenant
from cg_operator.reconcile.validation import tenant_errors
from cg_operator.render import environment

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import fleet  # noqa: E402
import raw  # noqa: E402
import run  # noqa: E402


@pytest.fixture(scope="module")
def catalogue() -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = fleet.bench_catalogue(fleet.load_catalogue())
    return found


@pytest.fixture(scope="module")
def national(catalogue: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = fleet.fleet(342, catalogue)
    return found


def test_every_municipality_with_its_cbs_code() -> None:
    everyone = fleet.municipalities()
    assert len(everyone) == 342
    assert len({m.code for m in everyone}) == 342
    assert all(m.code.startswith("GM") and len(m.code) == 6 for m in everyone)


def test_the_fleet_is_the_same_for_the_same_seed_and_differs_for_another(
    catalogue: dict[str, dict[str, Any]], national: list[dict[str, Any]]
) -> None:
    assert json.dumps(fleet.fleet(342, catalogue)) == json.dumps(national)
    assert json.dumps(fleet.fleet(342, catalogue, seed=7)) != json.dumps(national)
    # A smaller fleet is the first municipalities of the larger one, with the same subscriptions
    # (the rings are cut again, so that any N has the 10/20/70 mix).
    small = fleet.fleet(20, catalogue)
    assert [t["metadata"]["name"] for t in small] == [t["metadata"]["name"] for t in national[:20]]
    assert [t["spec"]["components"] for t in small] == [
        t["spec"]["components"] for t in national[:20]
    ]


def test_each_tenant_has_8_to_15_subscriptions_with_their_requirements(
    catalogue: dict[str, dict[str, Any]], national: list[dict[str, Any]]
) -> None:
    parsed = {name: CGComponentSpec.model_validate(c["spec"]) for name, c in catalogue.items()}
    for tenant in national:
        names = [s["name"] for s in tenant["spec"]["components"]]
        assert 8 <= len(names) <= 15, tenant["metadata"]["name"]
        assert len(set(names)) == len(names)
        for name in names:
            for requirement in catalogue[name]["spec"].get("requires") or []:
                if not requirement.get("optional"):
                    assert requirement["component"] in names, (name, requirement)
        spec = MunicipalityTenantSpec.model_validate(tenant["spec"])
        assert tenant_errors(spec, parsed) == []
    sizes = Counter(len(t["spec"]["components"]) for t in national)
    assert len(sizes) >= 5, "the sizes should spread over the range"


def test_saas_only_where_no_credentials_are_needed_and_backing_services_are_external(
    catalogue: dict[str, dict[str, Any]], national: list[dict[str, Any]]
) -> None:
    offerings: Counter[bool] = Counter()
    for tenant in national:
        for sub in tenant["spec"]["components"]:
            offerings[sub["offering"] == "container"] += 1
            if sub["offering"] != "container":
                assert sub["offering"] == fleet.saas_without_credentials(catalogue[sub["name"]])
                assert "backingServices" not in sub
            elif fleet.backing_types(catalogue[sub["name"]]):
                modes = {b["mode"] for b in sub["backingServices"].values()}
                assert modes == {"External"}
    assert offerings[True] > 10 * offerings[False] > 0


def test_rings_are_about_10_20_70_percent(national: list[dict[str, Any]]) -> None:
    rings = Counter(t["spec"]["ring"] for t in national)
    assert rings == {"koploper": 34, "vroege-volger": 68, "volger": 240}
    small = Counter(t["spec"]["ring"] for t in fleet.fleet(20, fleet.load_catalogue()))
    assert small == {"koploper": 2, "vroege-volger": 4, "volger": 14}


def test_the_throughput_catalogue_runs_no_pods(catalogue: dict[str, dict[str, Any]]) -> None:
    for component in catalogue.values():
        for version in component["spec"]["versions"]:
            assert version["container"]["replicas"] == 0
            assert version["container"]["workers"] == []
    real = fleet.bench_catalogue(fleet.load_catalogue(), replicas=True)
    assert real == fleet.load_catalogue()


def test_no_bench_component_waits_for_a_public_host(catalogue: dict[str, dict[str, Any]]) -> None:
    """The fleet's tenants have no domain: a requirement on an exposed dependency would leave
    its dependents waiting for ever, so the benchmark's catalogue has none, and it still
    passes the catalogue's own validation."""
    for name, component in catalogue.items():
        spec = CGComponentSpec.model_validate(component["spec"])
        assert not any(r.exposed for r in spec.requires), name
    assert any(r.get("exposed") for r in fleet.load_catalogue()["kiss"]["spec"]["requires"])


def test_the_fanout_version_exists_and_differs(catalogue: dict[str, dict[str, Any]]) -> None:
    version = fleet.other_version(catalogue, "open-zaak")
    bumped = fleet.with_default_version(catalogue, "open-zaak", version)
    assert bumped["open-zaak"]["spec"]["defaultVersion"] == version
    assert catalogue["open-zaak"]["spec"]["defaultVersion"] != version
    with pytest.raises(ValueError, match="no version"):
        fleet.with_default_version(catalogue, "open-zaak", "9.9.9")


def _live(obj: Mapping[str, Any]) -> dict[str, Any]:
    """What the API server returns for an applied object: the same, with a uid."""
    out: dict[str, Any] = json.loads(json.dumps(obj))
    out["metadata"]["uid"] = str(uuid.uuid5(uuid.NAMESPACE_URL, obj["metadata"]["name"]))
    return out


def test_the_raw_applier_writes_exactly_what_the_operator_plans(
    catalogue: dict[str, dict[str, Any]], national: list[dict[str, Any]]
) -> None:
    parsed = raw.parse_catalogue(list(catalogue.values()))
    tenant = _live(max(national, key=lambda t: len(t["spec"]["components"])))
    written: list[dict[str, Any]] = []

    def apply(obj: dict[str, Any]) -> dict[str, Any]:
        written.append(json.loads(json.dumps(obj)))
        return _live(obj)

    assert raw.apply_tenant(tenant, parsed, apply, new_secret=lambda: "s3cret") == len(written)

    # The operator: the tenant pass plans the namespace, its children (a credential Secret per
    # wired pair) and the installations; each installation pass plans from the live
    # installation and its siblings, whose status gives their endpoints, and adds its
    # configuration Job once its workloads run.
    spec = MunicipalityTenantSpec.model_validate(tenant["spec"])
    subscribed = {s.name: parsed[s.name] for s in spec.components}
    credentials = {credential_secret_name(*pair): "s3cret" for pair in credential_pairs(subscribed)}
    assert credentials, "the national fleet's largest tenant wires some pair"
    plan = plan_tenant(tenant, spec, parsed, rollout_versions={}, credentials=credentials)
    expected = [plan.namespace_object, *plan.children, *plan.installations]
    versions = {
        name: _live(o)["metadata"]["uid"]
        for o in plan.children
        if (name := o["metadata"]["name"]) in credentials
    }
    siblings = {i["metadata"]["name"]: _live(i) for i in plan.installations}

    def operator_plan(installation: dict[str, Any]) -> Any:
        return plan_installation(
            installation,
            ComponentInstallationSpec.model_validate(installation["spec"]),
            parsed[installation["spec"]["component"]],
            siblings,
            passwords={},
            credentials=None,
            credential_versions=versions,
        )

    for installation in siblings.values():
        installation["status"] = {"endpoint": operator_plan(installation).endpoint}
    jobs = 0
    for installation in siblings.values():
        planned = operator_plan(installation)
        assert planned.errors == []
        job = planned.configuration.job if planned.configuration else None
        jobs += job is not None
        expected += [*planned.data, *planned.children, *([job] if job else [])]
    assert jobs, "the largest tenant runs some configuration Job"

    def key(obj: Mapping[str, Any]) -> tuple[str, str, str]:
        return obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"]

    assert sorted(map(key, written)) == sorted(map(key, expected))
    by_key = {key(o): json.dumps(o) for o in expected}
    for obj in written:
        assert json.dumps(obj) == by_key[key(obj)], key(obj)
    kinds = Counter(o["kind"] for o in written)
    assert kinds["StatefulSet"] == 0
    assert kinds["PersistentVolumeClaim"] == 0
    assert kinds["ComponentInstallation"] == len(spec.components)


def test_the_raw_applier_applies_requirements_first(
    catalogue: dict[str, dict[str, Any]], national: list[dict[str, Any]]
) -> None:
    parsed = raw.parse_catalogue(list(catalogue.values()))
    tenant = _live(national[0])
    order: list[str] = []

    def apply(obj: dict[str, Any]) -> dict[str, Any]:
        if obj["kind"] == "Deployment":
            order.append(obj["metadata"]["labels"]["app.kubernetes.io/name"])
        return _live(obj)

    raw.apply_tenant(tenant, parsed, apply)
    for position, name in enumerate(order):
        for requirement in parsed[name].requires:
            if requirement.component in order:
                assert order.index(requirement.component) < position, (requirement, name)


def _planned(tenant: Mapping[str, Any], parsed: Any) -> list[dict[str, Any]]:
    written: list[dict[str, Any]] = []

    def apply(obj: dict[str, Any]) -> dict[str, Any]:
        written.append(json.loads(json.dumps(obj)))
        return _live(obj)

    raw.apply_tenant(_live(tenant), parsed, apply, new_secret=lambda: "s3cret")
    return written


def test_libyaml_parses_the_templates_exactly_as_the_python_parser(
    catalogue: dict[str, dict[str, Any]],
    national: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Rendering is the hottest path; the C parser must be the one shipped (the wheel of PyYAML
    # has it), and it and the templates' own construction must give the very same objects as
    # PyYAML's reference loader, values included.
    assert environment._LOADER is yaml.CSafeLoader
    assert issubclass(environment._TEMPLATE_LOADER, yaml.CSafeLoader)
    parsed = raw.parse_catalogue(list(catalogue.values()))
    sample = national[::17]  # 21 tenants, every component and offering of the mix
    fast = [_planned(t, parsed) for t in sample]
    monkeypatch.setattr(environment, "_LOADER", yaml.SafeLoader)
    monkeypatch.setattr(environment, "_TEMPLATE_LOADER", yaml.SafeLoader)
    reference = [_planned(t, parsed) for t in sample]
    assert json.dumps(fast) == json.dumps(reference)
    assert sum(map(len, fast)) > 800


def test_the_ci_check_fails_on_idle_no_op_and_restart_writes() -> None:
    def requests(writes: int, children: int = 0) -> dict[str, Any]:
        return {"requests": {"writes": writes, "children": children}}

    clean = {
        "idle": requests(0),
        "fanout": {"noop": requests(0), "update": requests(90, 90), "installations": 90},
        "restart": {"writes_per_installation": 0.0},
    }
    assert run.missed_targets(clean) == []
    assert run.missed_targets({}) == [], "scenarios not run are not judged"
    noisy = {
        "idle": requests(3),
        "fanout": {**clean["fanout"], "noop": requests(5, 5)},
        "restart": {"writes_per_installation": 0.02},
    }
    missed = run.missed_targets(noisy)
    assert [m.split(":")[0] for m in missed] == ["idle", "no-op catalogue", "restart"]
    assert "3 writes" in missed[0]
    assert "5 child writes" in missed[1]
    assert "0.02" in missed[2]


def test_the_two_shard_run_splits_the_fleet_and_reports_each_shard() -> None:
    tenants = fleet.fleet(4, fleet.bench_catalogue(fleet.load_catalogue()), seed=1)
    moved = fleet.labelled(tenants[1], {"appstore.commonground.nl/shard": "east"})
    assert moved["metadata"]["labels"]["appstore.commonground.nl/shard"] == "east"
    assert "appstore.commonground.nl/shard" not in tenants[1]["metadata"]["labels"]
    assert moved["spec"] == tenants[1]["spec"]
    one = {"tenants": 2, "peak_rss_mb": 90.0, "settled_rss_mb": 80.0, "cpu_seconds": 3.0}
    table = run.shards_table(
        {
            "seconds": 12.5,
            "requests": {"writes": 400},
            "shards": {"main": {**one, "writes": 150}, "east": {**one, "writes": 140}},
        }
    )
    assert "| main | 2 | 90.0 | 80.0 | 3.0 | 150 |" in table
    assert "| east | 2 | 90.0 | 80.0 | 3.0 | 140 |" in table
