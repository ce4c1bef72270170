"""Bring children in line with a plan: apply what differs, delete what is no longer wanted.

Shared by the tenant and installation reconcilers; every write goes through k8s.objects.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from cg_operator.api.constants import FIELD_MANAGER
from cg_operator.api.refs import Ref
from cg_operator.handlers.observed import Observed
from cg_operator.k8s import objects
from cg_operator.reconcile.diff import (
    changed_by_someone_else,
    difference,
    needs_replace,
    other_writer,
    stamped,
)

log = logging.getLogger(__name__)


# Told of each repair of someone else's change: (the object, the field, who changed it).
OnRepair = Callable[[Ref, str, str | None], None]


def apply_all(
    desired: Iterable[dict[str, Any]], observed: Observed, on_repair: OnRepair | None = None
) -> list[Ref]:
    """Apply every object that is missing, differs from what runs, or whose wanted state
    changed since it was last applied (see reconcile/diff.py); the refs it wrote. A change
    someone else made is put back and reported to `on_repair` with who made it."""
    written = []
    for wanted in desired:
        obj = stamped(wanted)
        ref = Ref.of(obj)
        live = observed.get(ref)
        drift = difference(obj, live)
        if drift is None:
            continue
        log.debug("%s differs at %s", ref, drift or "(missing)")
        if on_repair is not None and drift and changed_by_someone_else(obj, live):
            managers = (live or {}).get("metadata", {}).get("managedFields") or []
            on_repair(ref, drift, other_writer(managers, FIELD_MANAGER, drift))
        if needs_replace(obj, live):
            objects.delete(ref)
        objects.apply(obj)
        written.append(ref)
    return written


def report_repairs(owner: dict[str, Any]) -> OnRepair:
    """An on_repair that tells the owner's users who keeps changing what (one Event per
    object, field and writer, counted up on repeats)."""

    def report(ref: Ref, path: str, writer: str | None) -> None:
        who = writer or "another writer"
        objects.post_event(
            owner,
            reason="DriftRepaired",
            message=f"{ref.kind} {ref.name}: {path} was changed by {who}; put back",
            warning=True,
            series=f"drift/{ref.kind}/{ref.name}/{path}/{who}",
        )

    return report


def prune(refs: Iterable[Ref]) -> list[Ref]:
    """Delete objects that are no longer desired; the ones that were still there."""
    return [ref for ref in refs if objects.delete(ref)]
