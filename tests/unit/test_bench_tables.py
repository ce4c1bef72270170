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


def test_the_work_queue_depth_is_read_though_it_has_no_labels() -> None:
    """The benchmark waits for the operator's queue to be empty (a held status write is a
    queued pass) by cg_workqueue_depth, a sample without labels."""
    import harness  # noqa: PLC0415 - beside run, from bench/

    text = "\n".join(
        [
            "# HELP cg_workqueue_depth Objects waiting for a reconcile pass.",
            "# TYPE cg_workqueue_depth gauge",
            "cg_workqueue_depth 3.0",
            'cg_status_writes_total{kind="ComponentInstallation",cause="first"} 7.0',
        ]
    )
    assert harness.metric_samples(text, "cg_workqueue_depth") == [({}, 3.0)]
    assert harness.metric_samples(text, "cg_status_writes_total") == [
        ({"kind": "ComponentInstallation", "cause": "first"}, 7.0)
    ]


def test_the_latency_table_reads_the_operators_full_collections() -> None:
    """The edit latency's tail is the operator's full garbage collections: the benchmark reads
    them from the operator's own exposition, and shows them beside the percentiles."""
    import harness  # noqa: PLC0415 - beside run, from bench/
    import run  # noqa: PLC0415
    from prometheus_client import CollectorRegistry, generate_latest  # noqa: PLC0415

    from cg_operator.metrics import GcPauses  # noqa: PLC0415

    pauses = GcPauses()
    for generation, seconds in ((2, 0.05), (2, 0.3), (2, 0.9), (0, 0.2)):
        pauses.observe(generation, seconds)
    registry = CollectorRegistry()
    registry.register(pauses)
    count, seconds, over_100ms = harness.full_collections(generate_latest(registry).decode())
    assert (count, round(seconds, 3), over_100ms) == (3, 1.25, 2)
    cell = run.full_collections_cell({"count": 3, "seconds": 1.25, "over_100ms": 2})
    assert cell == "3 (2), 1.25"
    assert run.full_collections_cell(None) == "-", "results from before the metric"


def test_the_fanout_counts_own_writes_until_the_operator_is_quiet() -> None:
    """A tenant's summary of the move is held for its window and lands after every
    installation has moved: the report counts it, per installation moved."""
    update = {"requests": {"children": 60, "own": 41, "events": 80}}
    operator = {
        "installations": 20,
        "update": {**update, "until_quiescent": {"children": 60, "own": 62, "events": 80}},
    }
    assert run.fanout_settled_rows(operator) == [
        "| writes until quiet (children / own / events) | 60 / 62 / 80 |",
        "| own writes per installation moved, until quiet | 3.10 |",
    ]
    assert run.fanout_settled_rows({"installations": 20, "update": update}) == [], "raw"
