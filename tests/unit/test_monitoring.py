"""monitoring/: the alert rules pass promtool and its unit tests, every alert has a test that makes
it fire, and the rules and the dashboard use only metrics the operator exports."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from cg_operator.metrics import REGISTRY, FleetSnapshot, state_families
from tests.support.tools import require_tool

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "monitoring"
ALERTS = MONITORING / "alerts.yaml"
ALERT_TESTS = MONITORING / "tests" / "alerts.test.yaml"
DASHBOARD = MONITORING / "dashboard.json"

# The series names a metric family of each type is scraped as.
SERIES_SUFFIXES: dict[str, tuple[str, ...]] = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("", "_sum", "_count"),
}
METRIC_NAME = re.compile(r"\bcg_\w+")
# Grafana's variables, replaced by something PromQL accepts to check the dashboard's queries.
RATE_INTERVAL = re.compile(r"\$(__rate_interval|\{__rate_interval\})")
VARIABLE = re.compile(r"\$(\w+|\{\w+\})")


def _run_promtool(*args: str) -> None:
    result = subprocess.run(
        [require_tool("promtool"), *args], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"promtool {' '.join(args)}:\n{result.stdout}{result.stderr}"


def _alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def _alert_cases() -> list[dict[str, Any]]:
    tests = yaml.safe_load(ALERT_TESTS.read_text())["tests"]
    return [case for test in tests for case in test.get("alert_rule_test") or []]


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every panel, including those inside (collapsed) rows."""
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels") or [])


def _dashboard() -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return dashboard


def _dashboard_queries(dashboard: dict[str, Any]) -> list[str]:
    exprs = [
        target["expr"]
        for panel in _panels(dashboard["panels"])
        for target in panel.get("targets") or []
        if target.get("expr")
    ]
    for variable in dashboard["templating"]["list"]:
        query = variable.get("query")
        if variable["type"] == "query":
            exprs.append(query["query"] if isinstance(query, dict) else query)
    return exprs


def _full_snapshot() -> FleetSnapshot:
    """One installation, tenant and rollout with every field the state metrics read."""
    ready = [{"type": "Ready", "status": "True"}]
    return FleetSnapshot(
        installations=[
            {
                "spec": {"tenant": "gm0344-utrecht", "component": "open-inwoner", "offering": "x"},
                "status": {
                    "conditions": [*ready, {"type": "Healthy", "status": "True"}],
                    "observedVersion": "1.27.0",
                    "delivery": "SaaS",
                    "lastProbe": {"certificateExpires": "2027-01-01T00:00:00Z"},
                    "credentialsExpire": "2027-01-01T00:00:00Z",
                },
            }
        ],
        tenants=[
            {
                "metadata": {"name": "gm0344-utrecht"},
                "spec": {"ring": "vroege-volger"},
                "status": {"conditions": ready},
            }
        ],
        rollouts=[
            {
                "metadata": {"name": "open-zaak-1-30"},
                "spec": {"component": "open-zaak"},
                "status": {
                    "waves": [{"name": "koplopers", "tenants": 2, "ready": 1}],
                    "conditions": [{"type": "Progressing", "status": "True"}],
                },
            }
        ],
        queue_depth=3,
        cached_objects={"configmaps": 40},
    )


def _exported_series() -> dict[str, str]:
    """Series name -> the metric family it belongs to, for every metric the operator exports."""
    state = list(state_families(_full_snapshot()))
    empty = [family.name for family in state if not family.samples]
    assert not empty, f"the snapshot is missing fields: no samples for {empty}"
    series = {}
    for family in [*REGISTRY.collect(), *state]:
        for suffix in SERIES_SUFFIXES.get(family.type, ("",)):
            series[family.name + suffix] = family.name
    return series


@pytest.mark.tools
def test_rules_pass_promtool_check() -> None:
    _run_promtool("check", "rules", str(ALERTS.relative_to(ROOT)))


@pytest.mark.tools
def test_rules_pass_their_promtool_unit_tests() -> None:
    _run_promtool("test", "rules", str(ALERT_TESTS.relative_to(ROOT)))


def test_every_alert_is_tested_firing_and_not_firing() -> None:
    alerts = {rule["alert"] for rule in _alert_rules()}
    cases = _alert_cases()
    firing = {case["alertname"] for case in cases if case.get("exp_alerts")}
    quiet = {case["alertname"] for case in cases if not case.get("exp_alerts")}
    assert not alerts - firing, f"no promtool test makes these fire: {sorted(alerts - firing)}"
    assert not alerts - quiet, f"no promtool test keeps these quiet: {sorted(alerts - quiet)}"
    assert not (firing | quiet) - alerts, "tests for alerts that do not exist"


def test_every_alert_has_severity_and_annotations() -> None:
    for rule in _alert_rules():
        assert rule.get("labels", {}).get("severity") in ("warning", "critical"), rule["alert"]
        annotations = rule.get("annotations") or {}
        for key in ("summary", "description", "runbook"):
            assert annotations.get(key), f"{rule['alert']}: no {key} annotation"


def test_rules_and_dashboard_use_only_exported_metrics() -> None:
    exported = _exported_series()
    used = {
        "monitoring/alerts.yaml": [rule["expr"] for rule in _alert_rules()],
        "monitoring/dashboard.json": _dashboard_queries(_dashboard()),
    }
    for where, exprs in used.items():
        names = {name for expr in exprs for name in METRIC_NAME.findall(expr)}
        assert names, f"{where} uses no cg_ metric"
        unknown = sorted(names - set(exported))
        assert not unknown, f"{where} uses metrics the operator does not export: {unknown}"


def test_dashboard_is_well_formed() -> None:
    dashboard = _dashboard()
    panels = list(_panels(dashboard["panels"]))
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), f"duplicate panel ids: {ids}"
    for panel in panels:
        if panel["type"] == "row":  # a layout container: it holds panels, not queries
            continue
        targets = panel.get("targets") or []
        assert any(target.get("expr") for target in targets), f"{panel['title']}: no query"
        for source in [panel.get("datasource"), *(t.get("datasource") for t in targets)]:
            assert source in (None, {"type": "prometheus", "uid": "${datasource}"}), (
                f"{panel['title']}: data source {source} is not the $datasource variable"
            )
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for name in ("tenant", "component"):
        assert "label_values(" in json.dumps(variables[name]["query"]), name


@pytest.mark.tools
def test_dashboard_queries_are_valid_promql(tmp_path: Path) -> None:
    rules = [
        {
            "record": f"dashboard_query_{index}",
            "expr": VARIABLE.sub(".*", RATE_INTERVAL.sub("5m", expr)),
        }
        for index, expr in enumerate(_dashboard_queries(_dashboard()))
        if not expr.startswith("label_values(")
    ]
    path = tmp_path / "dashboard-queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    _run_promtool("check", "rules", str(path))
