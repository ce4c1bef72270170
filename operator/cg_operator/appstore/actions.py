"""What each App Store action changes, as pure functions from what is stored to a patch. The
caller sends it with the person's own credentials, so Kubernetes RBAC decides whether they
may; every patch that extends a list is guarded by the resourceVersion it was computed from
(a conflict is answered by reading again), and a removal tests the element it removes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

Obj = Mapping[str, Any]


class ActionError(ValueError):
    """An action that cannot apply to what is stored, with what to do instead."""


@dataclass(frozen=True)
class Patch:
    """A patch to one object: `kind` is merge (JSON merge patch) or json (JSON patch)."""

    kind: str
    body: Any
    summary: str


def _guarded(obj: Obj, spec: Mapping[str, Any], summary: str) -> Patch:
    """A merge patch that fails with 409 if the object changed since it was read."""
    version = obj["metadata"].get("resourceVersion")
    return Patch("merge", {"metadata": {"resourceVersion": version}, "spec": spec}, summary)


def set_rollout_flag(rollout: Obj, flag: str, value: bool) -> Patch:
    """spec.paused or spec.abort."""
    name = rollout["metadata"]["name"]
    verb = {("paused", True): "paused", ("paused", False): "resumed", ("abort", True): "aborted"}
    if (flag, value) not in verb:
        raise ActionError(f"an abort cannot be undone: delete {name} to return its tenants")
    return Patch("merge", {"spec": {flag: value}}, f"rollout {name} {verb[(flag, value)]}")


def approve_wave(rollout: Obj, wave: str) -> Patch:
    """Add a wave to spec.approvedWaves (it must be one of the rollout's waves)."""
    spec = rollout.get("spec") or {}
    name = rollout["metadata"]["name"]
    waves = [w["name"] for w in spec.get("waves") or []]
    if wave not in waves:
        raise ActionError(f"rollout {name} has no wave {wave!r}; its waves: {', '.join(waves)}")
    approved = list(spec.get("approvedWaves") or [])
    if wave in approved:
        return Patch("none", None, f"wave {wave} of rollout {name} was already approved")
    return _guarded(
        rollout, {"approvedWaves": [*approved, wave]}, f"wave {wave} of rollout {name} approved"
    )


def approve_for_tenant(tenant: Obj, rollout: Obj) -> Patch:
    """Add the rollout (by name, component and target version) to the tenant's
    approvedRollouts, which an `upgradePolicy: Approve` tenant waits for."""
    spec = tenant.get("spec") or {}
    name, target = rollout["metadata"]["name"], rollout.get("spec") or {}
    entry = {"name": name, "component": target["component"], "version": target["version"]}
    tenant_name = tenant["metadata"]["name"]
    subscribed = {c["name"] for c in spec.get("components") or []}
    if target["component"] not in subscribed:
        raise ActionError(f"{tenant_name} does not subscribe to {target['component']}")
    approved = [a for a in spec.get("approvedRollouts") or [] if a.get("name") != name]
    if entry in (spec.get("approvedRollouts") or []):
        return Patch("none", None, f"{tenant_name} had already approved rollout {name}")
    return _guarded(
        tenant,
        {"approvedRollouts": [*approved, entry]},
        f"{tenant_name} approves rollout {name} ({entry['component']} {entry['version']})",
    )


def subscribe(
    tenant: Obj,
    component: Obj,
    *,
    offering: str | None = None,
    version: str | None = None,
    values: Mapping[str, str] | None = None,
) -> Patch:
    """Add a subscription. The offering defaults to the component's only one; a version must
    be in the catalogue."""
    spec = tenant.get("spec") or {}
    tenant_name, name = tenant["metadata"]["name"], component["metadata"]["name"]
    entry_spec = component.get("spec") or {}
    if any(c["name"] == name for c in spec.get("components") or []):
        raise ActionError(f"{tenant_name} already subscribes to {name}")
    offerings = [o["name"] for o in entry_spec.get("offerings") or []]
    if offering is None:
        if len(offerings) != 1:
            raise ActionError(f"{name} has offerings {', '.join(offerings)}: choose one")
        offering = offerings[0]
    elif offering not in offerings:
        raise ActionError(
            f"{name} has no offering {offering!r}; its offerings: {', '.join(offerings)}"
        )
    versions = [v["version"] for v in entry_spec.get("versions") or []]
    if version is not None and version not in versions:
        raise ActionError(f"{name} has no version {version}; its versions: {', '.join(versions)}")
    subscription: dict[str, Any] = {"name": name, "offering": offering}
    if version:
        subscription["version"] = version
    if values:
        subscription["values"] = dict(values)
    return _guarded(
        tenant,
        {"components": [*(spec.get("components") or []), subscription]},
        f"{tenant_name} subscribes to {name} ({offering}{' ' + version if version else ''})",
    )


def unsubscribe(tenant: Obj, component: str) -> Patch:
    """Remove a subscription; the summary says what the tenant's deletionPolicy keeps."""
    spec = tenant.get("spec") or {}
    tenant_name = tenant["metadata"]["name"]
    names = [c["name"] for c in spec.get("components") or []]
    if component not in names:
        raise ActionError(f"{tenant_name} does not subscribe to {component}")
    index = names.index(component)
    policy = spec.get("deletionPolicy") or "Retain"
    kept = (
        "its data (volumes and database Secrets) is kept (deletionPolicy Retain)"
        if policy == "Retain"
        else "its data (volumes and database Secrets) is deleted (deletionPolicy Delete)"
    )
    return Patch(
        "json",
        [
            {"op": "test", "path": f"/spec/components/{index}/name", "value": component},
            {"op": "remove", "path": f"/spec/components/{index}"},
        ],
        f"{tenant_name} unsubscribes from {component}: its workloads are removed, {kept}",
    )
