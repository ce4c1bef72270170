"""Shared by the planners: labels, owner references, object references. Pure."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from cg_operator.api.constants import (
    LABEL_INSTALLATION,
    LABEL_MANAGED_BY,
    LABEL_PART_OF,
    LABEL_TENANT,
    MANAGED_BY,
)


def tenant_labels(tenant: str) -> dict[str, str]:
    """Labels on everything made for a tenant."""
    return {LABEL_MANAGED_BY: MANAGED_BY, LABEL_PART_OF: "cg-appstore", LABEL_TENANT: tenant}


def label_value(text: str) -> str:
    """Text as a valid label value: characters a label may not hold become '_', at most 63,
    starting and ending alphanumeric (a version such as 1.0.0+build.1 would otherwise make
    every apply of the Deployment fail)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", text)[:63]
    return re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", cleaned)


def installation_labels(tenant: str, installation: str) -> dict[str, str]:
    """Labels on everything made for one installation."""
    return {**tenant_labels(tenant), LABEL_INSTALLATION: installation}


def owner_reference(owner: Mapping[str, Any], *, controller: bool = True) -> dict[str, Any]:
    """An ownerReference to `owner` (a live object with uid)."""
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": controller,
        "blockOwnerDeletion": True,
    }


def with_owner(objects: list[dict[str, Any]], owner: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The objects, each owned (garbage-collected with) `owner`."""
    reference = owner_reference(owner)
    for obj in objects:
        obj["metadata"]["ownerReferences"] = [reference]
    return objects


def binding_secret_name(component: str) -> str:
    """The servicebinding.io Secret a component's dependents read."""
    return f"{component}-binding"
