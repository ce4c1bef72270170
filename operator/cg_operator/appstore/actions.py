"""What each App Store action changes, as pure functions from what is stored to a patch. The
caller sends it with the person's own credentials, so Kubernetes RBAC decides whether they
may.

Changes are forced server-side applies under the field manager `cg-appstore`. An apply that
extends a list (subscriptions, a tenant's approvals, a rollout's approved waves) carries the
whole list as read, with the resourceVersion it was read at: an apply removes what its manager
set before and now leaves out, so leaving out entries would drop subscriptions the page made
earlier, and a concurrent change is refused (409) and answered by reading again. `paused` and
`abort` are single fields. Only an unsubscribe is not an apply: an apply
can remove only what its manager set, and a subscription may come from anyone, so it is a JSON
patch that tests the entry it removes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cg_operator.api.constants import GROUP, VERSION

Obj = Mapping[str, Any]
TENANT, ROLLOUT = "MunicipalityTenant", "ComponentRollout"


class ActionError(ValueError):
    """An action that cannot apply to what is stored, with what to do instead."""


@dataclass(frozen=True)
class Patch:
    """A change to one object: `kind` is apply (server-side apply, forced), json (JSON patch)
    or none (nothing to do)."""

    kind: str
    body: Any
    summary: str


def _apply(
    obj: Obj, kind: str, spec: Mapping[str, Any], summary: str, *, guarded: bool = False
) -> Patch:
    """A server-side apply of these spec fields of a `kind`; guarded: refused (409) if the
    object changed since it was read."""
    metadata: dict[str, Any] = {"name": obj["metadata"]["name"]}
    if guarded:
        metadata["resourceVersion"] = obj["metadata"].get("resourceVersion")
    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": kind, "metadata": metadata}
    return Patch("apply", {**body, "spec": dict(spec)}, summary)


def set_rollout_flag(rollout: Obj, flag: str, value: bool) -> Patch:
    """spec.paused or spec.abort."""
    name = rollout["metadata"]["name"]
    verb = {("paused", True): "paused", ("paused", False): "resumed", ("abort", True): "aborted"}
    if (flag, value) not in verb:
        raise ActionError(f"an abort cannot be undone: delete {name} to return its tenants")
    return _apply(rollout, ROLLOUT, {flag: value}, f"rollout {name} {verb[(flag, value)]}")


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
    return _apply(
        rollout,
        ROLLOUT,
        {"approvedWaves": [*approved, wave]},
        f"wave {wave} of rollout {name} approved",
        guarded=True,
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
    return _apply(
        tenant,
        TENANT,
        {"approvedRollouts": [*approved, entry]},
        f"{tenant_name} approves rollout {name} ({entry['component']} {entry['version']})",
        guarded=True,
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
    return _apply(
        tenant,
        TENANT,
        {"components": [*(spec.get("components") or []), subscription]},
        f"{tenant_name} subscribes to {name} ({offering}{' ' + version if version else ''})",
        guarded=True,
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
