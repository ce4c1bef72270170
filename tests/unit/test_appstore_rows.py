"""The fleet views read installations from the API server's Table rows (appstore/rows): what
each printer column carries must land where the views look for it."""

from __future__ import annotations

from typing import Any

import pytest

from cg_operator.api.kinds import ALL_KINDS, INSTALLATION, TENANT
from cg_operator.appstore import views
from cg_operator.appstore.rows import CONDITION_PATH, FIELD_PATH, objects_from_table


def table(names: list[str], *rows: list[Any]) -> dict[str, Any]:
    return {
        "kind": "Table",
        "columnDefinitions": [{"name": n, "type": "string"} for n in names],
        "rows": [{"cells": cells} for cells in rows],
    }


INSTALLATION_COLUMNS = ["Name", *(c.name for c in INSTALLATION.columns)]


def test_an_installation_row_becomes_the_fields_the_fleet_reads() -> None:
    # As kube-apiserver 1.36 prints it: null for an absent field, the date as an age.
    row = ["open-zaak", "open-zaak", "container", "Container", "1.30.0", "True", "False"]
    row += ["Available", None, "gm0363", "3m39s"]
    (obj,) = objects_from_table("componentinstallations", table(INSTALLATION_COLUMNS, row))
    assert obj == {
        "metadata": {"name": "open-zaak"},
        "spec": {"component": "open-zaak", "offering": "container", "tenant": "gm0363"},
        "status": {
            "delivery": "Container",
            "observedVersion": "1.30.0",
            "conditions": [
                {"type": "Ready", "status": "True", "reason": "Available"},
                {"type": "Healthy", "status": "False"},
            ],
        },
    }
    tenants = [{"metadata": {"name": "gm0363"}, "spec": {"ring": "koploper"}}]
    fleet = views.fleet("open-zaak", None, views.tenant_rings(tenants), [obj])
    assert (fleet.total, fleet.ready) == (1, 1)
    assert fleet.rings[0].ring == "koploper"
    assert fleet.rings[0].tenants == [("gm0363", "1.30.0", "True", "False")]


def test_a_row_without_status_yet_has_no_conditions() -> None:
    row = ["objecten", "objecten", "container", None, None, None, None, None, None, "gm0599", "1s"]
    (obj,) = objects_from_table("componentinstallations", table(INSTALLATION_COLUMNS, row))
    assert "status" not in obj
    assert views.condition(obj, "Ready") == {}


def test_columns_the_server_adds_or_the_kind_lacks_are_left_out() -> None:
    found = objects_from_table(
        "municipalitytenants",
        table(["Name", "Ring", "Unknown column"], ["gm0599", "volger", "x"]),
    )
    assert found == [{"metadata": {"name": "gm0599"}, "spec": {"ring": "volger"}}]


@pytest.mark.parametrize("kind", ALL_KINDS, ids=lambda k: k.kind)
def test_every_printer_column_is_in_a_form_the_rows_understand(kind: Any) -> None:
    # A column in another JSONPath form would silently drop out of the fleet views.
    for column in kind.columns:
        assert (
            column.type == "date"
            or CONDITION_PATH.match(column.json_path)
            or FIELD_PATH.match(column.json_path)
        ), f"{kind.kind} column {column.name}: {column.json_path}"


def test_the_fleet_fields_are_all_printed() -> None:
    # What views.fleet reads of an installation and a tenant, by JSONPath.
    paths = {c.json_path for c in INSTALLATION.columns}
    assert {".spec.component", ".spec.tenant", ".status.observedVersion"} <= paths
    assert '.status.conditions[?(@.type=="Ready")].status' in paths
    assert '.status.conditions[?(@.type=="Healthy")].status' in paths
    assert ".spec.ring" in {c.json_path for c in TENANT.columns}
    assert f".{views.COMPONENT_FIELD}" in INSTALLATION.selectable_fields
