"""An in-memory stand-in for appstore.kube.Store, for the page's fast tests: objects by kind
and name, RBAC as a set of allowed (verb, plural) pairs, and patches applied as the API server
would (an apply with its resourceVersion check, a JSON patch with its `test`)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from cg_operator.api.constants import LABEL_RING
from cg_operator.api.kinds import BY_PLURAL
from cg_operator.appstore.actions import Patch
from cg_operator.appstore.kube import ConflictError, ForbiddenError, NotFoundError
from cg_operator.appstore.rows import CONDITION_PATH, objects_from_table
from cg_operator.reconcile.adoption import adoption

ALL_VERBS = {"get", "list", "patch"}
KINDS = {"municipalitytenants": "MunicipalityTenant", "componentrollouts": "ComponentRollout"}


def _field(obj: dict[str, Any], path: str) -> Any:
    node: Any = obj
    for part in path.strip(".").split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _cell(obj: dict[str, Any], json_path: str) -> Any:
    """What the API server prints for a column: the two JSONPath forms the kinds use."""
    found = CONDITION_PATH.match(json_path)
    if found:
        kind, key = found.groups()
        conditions = _field(obj, "status.conditions") or []
        return next((c.get(key) for c in conditions if c.get("type") == kind), None)
    return _field(obj, json_path)


def table_of(plural: str, objects: list[dict[str, Any]]) -> dict[str, Any]:
    """A meta.k8s.io Table of the objects without them (includeObject=None)."""
    columns = BY_PLURAL[plural].columns
    return {
        "kind": "Table",
        "columnDefinitions": [{"name": "Name"}, *({"name": c.name} for c in columns)],
        "rows": [
            {"cells": [o["metadata"]["name"], *(_cell(o, c.json_path) for c in columns)]}
            for o in objects
        ],
    }


class FakeStore:
    def __init__(
        self, objects: dict[str, list[dict[str, Any]]], allowed: set[tuple[str, str]] | None = None
    ) -> None:
        self.objects = {
            plural: {o["metadata"]["name"]: copy.deepcopy(o) for o in found}
            for plural, found in objects.items()
        }
        self.allowed = allowed
        self.patches: list[tuple[str, str, Patch]] = []

    def _check(self, verb: str, plural: str) -> None:
        if self.allowed is not None and (verb, plural) not in self.allowed:
            raise ForbiddenError(
                f'{plural}.appstore.commonground.nl is forbidden: User "someone" cannot {verb} '
                f'resource "{plural}" in API group "appstore.commonground.nl"'
            )

    def get(self, plural: str, name: str, namespace: str = "") -> dict[str, Any]:
        self._check("get", plural)
        found = self.objects.get(plural, {}).get(name)
        if found is None:
            raise NotFoundError(f'{plural} "{name}" not found')
        return copy.deepcopy(found)

    def items(self, plural: str, namespace: str = "") -> list[dict[str, Any]]:
        self._check("list", plural)
        return [
            copy.deepcopy(o)
            for o in self.objects.get(plural, {}).values()
            if not namespace or o["metadata"].get("namespace") == namespace
        ]

    def summaries(
        self, plural: str, namespace: str = "", field_selector: str = ""
    ) -> list[dict[str, Any]]:
        """As the API server serves them: a Table of the printer columns, turned back into
        partial objects by the page's own code, so a view that reads a field no column
        carries sees it missing here too."""
        field, _, wanted = field_selector.partition("=")
        found = [
            o for o in self.items(plural, namespace) if not field or _field(o, field) == wanted
        ]
        return objects_from_table(plural, table_of(plural, found))

    def quota(self, namespace: str) -> list[dict[str, Any]]:
        self._check("list", "resourcequotas")
        return [
            q
            for q in self.objects.get("resourcequotas", {}).values()
            if q["metadata"].get("namespace") == namespace
        ]

    def patch(self, plural: str, name: str, patch: Patch) -> dict[str, Any]:
        self._check("patch", plural)
        live = self.objects[plural][name]
        if patch.kind == "apply":
            # The actions apply whole lists and single fields, so a key-by-key replacement of
            # spec is what the API server's merge comes to for them.
            wanted = (patch.body.get("metadata") or {}).get("resourceVersion")
            if wanted and wanted != live["metadata"].get("resourceVersion"):
                raise ConflictError("the object has been modified")
            assert patch.body["apiVersion"] == "appstore.commonground.nl/v1alpha1"
            assert patch.body["kind"] == KINDS[plural]
            updated = copy.deepcopy(live)
            updated["spec"] = {**live.get("spec", {}), **patch.body["spec"]}
        else:
            updated = copy.deepcopy(live)
            for op in patch.body:
                parts = op["path"].strip("/").split("/")
                parent = updated
                for part in parts[:-1]:
                    parent = parent[int(part)] if isinstance(parent, list) else parent[part]
                last = int(parts[-1]) if isinstance(parent, list) else parts[-1]
                if op["op"] == "test" and parent[last] != op["value"]:
                    raise ConflictError("test failed")
                if op["op"] == "remove":
                    del parent[last]
        version = int(live["metadata"].get("resourceVersion") or 0) + 1
        updated["metadata"]["resourceVersion"] = str(version)
        self.objects[plural][name] = updated
        self.patches.append((plural, name, patch))
        return copy.deepcopy(updated)

    def change(self, plural: str, name: str, decide: Callable[[dict[str, Any]], Patch]) -> str:
        patch = decide(self.get(plural, name))
        if patch.kind != "none":
            self.patch(plural, name, patch)
        return patch.summary


def installation(
    component: str, namespace: str, version: str, ready: str = "True", ring: str = "volger"
) -> dict[str, Any]:
    """An installation as the operator reports it: Ready and Healthy or not, with a reason,
    labelled with its tenant's ring."""
    return {
        "metadata": {
            "name": f"{namespace}.{component}",
            "namespace": namespace,
            "labels": {LABEL_RING: ring},
        },
        "spec": {"component": component, "tenant": namespace, "version": version},
        "status": {
            "observedVersion": version,
            "delivery": "Container",
            "conditions": [
                {
                    "type": "Ready",
                    "status": ready,
                    "reason": "Available" if ready == "True" else "ConfigurationFailed",
                    "message": "the configuration Job failed",
                },
                {"type": "Healthy", "status": ready},
            ],
        },
    }


def with_adoption(objects: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """The objects with each catalogue entry's status.adoption as the operator sums it from
    the installations (reconcile/adoption)."""
    out = copy.deepcopy(objects)
    for entry in out.get("cgcomponents", []):
        versions, tenants = adoption(
            entry["metadata"]["name"], out.get("componentinstallations", [])
        )
        entry.setdefault("status", {}).update(
            adoption=[v.wire() for v in versions], tenants=tenants
        )
    return out
