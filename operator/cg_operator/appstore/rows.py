"""Objects rebuilt from the API server's Table rows: the fleet views need five fields of each
installation, and the API server prints exactly those as the kind's printer columns. A Table
without the objects (`includeObject=None`) is about a twentieth of the full list's bytes and
several times faster to serve and parse at national scale (bench/page.py).

Only the two JSONPath forms the printer columns use are understood: a plain field path
(`.spec.component`) and a condition's field (`.status.conditions[?(@.type=="Ready")].status`).
A column in another form is left out, so a view reading it sees the field as absent."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from cg_operator.api.kinds import BY_PLURAL, PrinterColumn

CONDITION_PATH = re.compile(r'^\.status\.conditions\[\?\(@\.type=="(\w+)"\)\]\.(\w+)$')
FIELD_PATH = re.compile(r"^(\.[A-Za-z]\w*)+$")
NAME_COLUMN = "Name"  # the API server's own first column of every Table


Placer = Callable[[dict[str, Any], Any], None]


def placer(column: PrinterColumn) -> Placer | None:
    """How to put one column's cell back where its JSONPath read it from; None for a column
    whose value cannot be put back (an age, or a JSONPath form not understood here). Decided
    once per column, not per cell: a fleet Table has tens of thousands of cells."""
    if column.type == "date":
        return None  # printed as an age ("3m39s"), not the timestamp it was read from
    found = CONDITION_PATH.match(column.json_path)
    if found:
        kind, key = found.groups()

        def put_condition(obj: dict[str, Any], value: Any) -> None:
            conditions = obj.setdefault("status", {}).setdefault("conditions", [])
            entry = next((c for c in conditions if c.get("type") == kind), None)
            if entry is None:
                entry = {"type": kind}
                conditions.append(entry)
            entry[key] = value

        return put_condition
    if not FIELD_PATH.match(column.json_path):
        return None
    *parents, leaf = column.json_path[1:].split(".")

    def put_field(obj: dict[str, Any], value: Any) -> None:
        node = obj
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value

    return put_field


def _put_name(obj: dict[str, Any], value: Any) -> None:
    obj["metadata"]["name"] = value


def objects_from_table(plural: str, table: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each row of a Table of one of the App Store's kinds as the partial object its printer
    columns describe: metadata.name plus every column's field."""
    by_name = {c.name: c for c in BY_PLURAL[plural].columns}
    placed: list[tuple[int, Placer]] = []
    for index, definition in enumerate(table.get("columnDefinitions") or []):
        name = definition.get("name", "")
        put: Placer | None = _put_name if name == NAME_COLUMN else None
        if name in by_name:
            put = placer(by_name[name])
        if put is not None:
            placed.append((index, put))
    out = []
    for row in table.get("rows") or []:
        cells = row.get("cells") or []
        obj: dict[str, Any] = {"metadata": {}}
        for index, place in placed:
            if index < len(cells):
                value = cells[index]
                if value is not None and value != "":  # the field was absent
                    place(obj, value)
        out.append(obj)
    return out
