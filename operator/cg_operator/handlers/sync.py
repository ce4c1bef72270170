"""Bring children in line with a plan: apply what differs, delete what is no longer wanted.

Shared by the tenant and installation reconcilers; every write goes through k8s.objects.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from cg_operator.api.refs import Ref
from cg_operator.handlers.observed import Observed
from cg_operator.k8s import objects
from cg_operator.reconcile.diff import difference, needs_replace, stamped

log = logging.getLogger(__name__)


def apply_all(desired: Iterable[dict[str, Any]], observed: Observed) -> list[Ref]:
    """Apply every object that is missing, differs from what runs, or whose wanted state
    changed since it was last applied (see reconcile/diff.py); the refs it wrote."""
    written = []
    for wanted in desired:
        obj = stamped(wanted)
        ref = Ref.of(obj)
        live = observed.get(ref)
        drift = difference(obj, live)
        if drift is None:
            continue
        log.debug("%s differs at %s", ref, drift or "(missing)")
        if needs_replace(obj, live):
            objects.delete(ref)
        objects.apply(obj)
        written.append(ref)
    return written


def prune(refs: Iterable[Ref]) -> list[Ref]:
    """Delete objects that are no longer desired; the ones that were still there."""
    return [ref for ref in refs if objects.delete(ref)]
