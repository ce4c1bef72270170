"""The benchmark's memory tools measure what they say: a structure's size counts each object
once and stops at the process's shared machinery; the import table names every library."""

from __future__ import annotations

import json
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import heap  # noqa: E402
import imports  # noqa: E402


def test_an_object_reached_twice_is_counted_once() -> None:
    body = {"spec": {"image": "x" * 1000}}
    once, twice = heap.deep_size([[body]]), heap.deep_size([[body, body]])
    assert twice - once == sys.getsizeof([body, body]) - sys.getsizeof([body])
    assert once > 1000


def test_modules_and_functions_are_not_followed() -> None:
    held = {"module": json, "function": json.dumps}
    alone = sys.getsizeof(held) + sys.getsizeof("module") + sys.getsizeof("function")
    assert heap.deep_size([held]) == alone


def test_an_object_s_attributes_and_slots_are_followed() -> None:
    class Slotted:
        __slots__ = ("data",)

        def __init__(self) -> None:
            self.data = "y" * 5000

    class Plain:
        def __init__(self) -> None:
            self.data = "z" * 5000

    assert heap.deep_size([Slotted()]) > 5000
    assert heap.deep_size([Plain()]) > 5000


def test_the_import_table_has_a_row_per_library_and_the_total() -> None:
    result = {
        "bare_interpreter_mb": 8.5,
        "alone_mb": dict.fromkeys(imports.LIBRARIES, 1.0),
        "cumulative_mb": dict.fromkeys((*imports.LIBRARIES, imports.OPERATOR_MODULE), 0.5),
        "operator_imported_mb": 12.5,
    }
    table = imports.table(result)
    for name in (*imports.LIBRARIES, imports.OPERATOR_MODULE):
        assert f"| {name} |" in table
    assert "| 8.5 |" in table
    assert "| 12.5 |" in table


def test_the_probe_reads_a_fresh_interpreter_s_memory() -> None:
    bare, with_json = imports.rss_after([], runs=1), imports.rss_after(["json"], runs=1)
    assert 1 < bare < 200
    assert with_json >= bare - 1  # importing never frees the interpreter's own memory


def test_the_heap_report_sizes_each_child_store() -> None:
    from cg_operator.handlers.observed import STORES  # noqa: PLC0415

    store = STORES["observed_deployments"]
    spec = {"script": "x" * 200_000}  # 0.2 MB: the report rounds to hundredths of a MB
    obj = {"metadata": {"name": "open-zaak", "namespace": "gm0363-amsterdam"}, "spec": spec}
    store.put(obj)
    try:
        report = heap._kopf_structures()["indexes"]
    finally:
        store.drop("gm0363-amsterdam", "open-zaak")
    assert report["observed_deployments"]["objects"] == 1
    assert 0.19 <= report["observed_deployments"]["mb"] <= 0.25
    assert report["observed_secrets"]["objects"] == 0
