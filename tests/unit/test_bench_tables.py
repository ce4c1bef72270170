"""The benchmark's report says what made the status writes, largest first, per installation."""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import run  # noqa: E402


def test_status_writes_are_reported_by_cause_largest_first_per_installation() -> None:
    runs = [
        {"mode": "raw"},
        {
            "mode": "operator",
            "status_writes": {
                "ComponentInstallation Ready": 100,
                "ComponentInstallation progress": 150,
                "MunicipalityTenant first": 10,
            },
        },
    ]
    lines = run.per_installation_table(runs, installations=100)
    rows = [line for line in lines if line.startswith("| Component") or line.startswith("| Muni")]
    assert rows == [
        "| ComponentInstallation progress | 150 | 1.50 |",
        "| ComponentInstallation Ready | 100 | 1.00 |",
        "| MunicipalityTenant first | 10 | 0.10 |",
    ]


def test_no_table_when_the_operator_counted_nothing() -> None:
    assert run.per_installation_table([{"mode": "raw"}], installations=100) == []


def test_the_operators_events_are_reported_by_reason() -> None:
    runs = [{"mode": "operator", "operator_events": {"ComponentInstallation Installed": 238}}]
    lines = run.per_installation_table(runs, installations=238, field="operator_events")
    assert (
        "| the operator's Events, first cold run (kind reason) | count | per installation |"
        in lines
    )
    assert "| ComponentInstallation Installed | 238 | 1.00 |" in lines
