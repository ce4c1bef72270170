"""Objects rebuilt from the API server's Table rows: the fleet views need five fields of each
installation, and the API server prints exactly those as the kind's printer columns. A Table
without the objects (`includeObject=None`) is about a twentieth of the full list's bytes and
several times faster to serve and parse at national scale (bench/page.py).

Only the two JSONPath forms the printer columns use are understood: a plain field path
(`.spec.component`) and a condition's field (`.status.conditions[?(@.type=="Ready")].status`).
A column in another form is left out, so a view reading it sees the field as absent."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from cg_operator.api.kinds import BY_PLURAL, PrinterColumn

CONDITION_PATH = re.compile(r'^\.status\.conditions\[\?\(@\.type=="(\w+)"\)\]\.(\w+)$')
FIELD_PATH = re.compile(r"^(\.[A-Za-z]\w*)+$")
NAME_COLUMN = "Name"  # the API server's own first column of every Table


def place(obj: dict[str, Any], column: PrinterColumn, value: Any) -> None:
    """Put one cell's value where the column's JSONPath read it from."""
    if value is None or value == "":
        return  # the field was absent
    if column.type == "date":
        return  # printed as an age ("3m39s"), not the timestamp it was read from
    found = CONDITION_PATH.match(column.json_path)
    if found:
        kind, key = found.groups()
        conditions = obj.setdefault("status", {}).setdefault("conditions", [])
        entry = next((c for c in conditions if c.get("type") == kind), None)
        if entry is None:
            entry = {"type": kind}
            conditions.append(entry)
        entry[key] = value
        return
    if not FIELD_PATH.match(column.json_path):
        return
    *parents, leaf = column.json_path[1:].split(".")
    node = obj
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value


def objects_from_table(plural: str, table: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each row of a Table of one of the App Store's kinds as the partial object its printer
    columns describe: metadata.name plus every column's field."""
    by_name = {c.name: c for c in BY_PLURAL[plural].columns}
    names = [d.get("name", "") for d in table.get("columnDefinitions") or []]
    out = []
    for row in table.get("rows") or []:
        obj: dict[str, Any] = {"metadata": {}}
        for name, value in zip(names, row.get("cells") or [], strict=False):
            if name == NAME_COLUMN:
                obj["metadata"]["name"] = value
            elif name in by_name:
                place(obj, by_name[name], value)
        out.append(obj)
    return out
