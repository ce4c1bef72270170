"""Passes that keep failing surface on their object: Ready=False and Stalled=True with the
reason, and one Warning event per distinct failure, instead of only a traceback in the log while
the object still shows Ready=True. The work queue retries with backoff meanwhile, so a poison
object costs one pass per backoff step and never holds up others."""

from __future__ import annotations

import json
import logging
from collections.abc import Hashable

from kubernetes.client.exceptions import ApiException

from cg_operator.api.conditions import STALLED, find
from cg_operator.api.kinds import BY_PLURAL
from cg_operator.api.refs import Ref
from cg_operator.handlers.validate import now
from cg_operator.k8s import objects
from cg_operator.k8s.client import patch_status
from cg_operator.reconcile.status import (
    REASON_RECONCILE_ERROR,
    STALL_AFTER_FAILURES,
    existing_conditions,
    failure_conditions,
    status_patch,
)

log = logging.getLogger(__name__)
MESSAGE_MAX = 300


def describe(error: Exception) -> str:
    """What went wrong, short: the API server's status and reason, with its message when it
    names the object it refused and that is not a Secret (an admission policy's or a quota's
    refusal says why; a Secret's may echo its data); or the error's type and first line."""
    if isinstance(error, ApiException):
        told = f"the API server answered {error.status} {error.reason}"
        said = _api_message(error)
        return f"{told}: {said}"[:MESSAGE_MAX] if said else told
    first = (str(error).strip().splitlines() or [""])[0]
    return f"{type(error).__name__}: {first}"[:MESSAGE_MAX]


def _api_message(error: ApiException) -> str:
    try:
        body = json.loads(error.body or "")
    except (TypeError, ValueError):
        return ""
    if not isinstance(body, dict):
        return ""
    kind = str((body.get("details") or {}).get("kind") or "").lower()
    if not kind or kind in ("secret", "secrets"):
        return ""
    return (str(body.get("message") or "").strip().splitlines() or [""])[0]


def report_failure(key: Hashable, failures: int, error: Exception) -> None:
    """Called by the work queue after each failed pass of key (failures in a row)."""
    if failures < STALL_AFTER_FAILURES or not isinstance(key, tuple) or not key:
        return
    kind = BY_PLURAL.get(str(key[0]))
    if kind is None:
        return
    namespace, name = (str(key[1]), str(key[2])) if kind.namespaced else ("", str(key[1]))
    live = objects.get(Ref(kind.group_version, kind.kind, namespace, name))
    if live is None:
        return
    message = describe(error)
    status = live.get("status") or {}
    stored = existing_conditions(status)
    before = find(stored, STALLED)
    conditions = failure_conditions(
        stored, message, generation=live["metadata"].get("generation"), now=now()
    )
    patch = status_patch(status, conditions, status.get("observedGeneration"))
    if patch is not None:
        patch_status(kind.plural, name, patch, namespace or None)
    if before is None or before.reason != REASON_RECONCILE_ERROR or before.message != message:
        objects.post_event(live, reason=REASON_RECONCILE_ERROR, message=message, warning=True)
        log.warning("%s %s stalled after %d failed passes: %s", kind.kind, key, failures, message)
