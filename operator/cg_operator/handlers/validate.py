"""Shared by the kind handlers: validate a spec, compute conditions, patch status if changed."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel

from cg_operator.handlers.catalogue import Seen
from cg_operator.k8s.client import patch_status
from cg_operator.reconcile.status import existing_conditions, status_patch, validation_conditions
from cg_operator.reconcile.validation import FieldError, parse_spec

M = TypeVar("M", bound=BaseModel)


def now() -> datetime:
    """The current time, to the second, as conditions carry it."""
    return datetime.now(UTC).replace(microsecond=0)


def validate_and_report(
    *,
    plural: str,
    seen: Seen,
    model: type[M],
    cross_checks: Callable[[M], list[FieldError]],
    ready_when_valid: bool,
    extra: Mapping[str, Any] | None = None,
    held: Callable[[Mapping[str, Any] | None, Mapping[str, Any]], bool] | None = None,
) -> M | None:
    """Validate one object and write its conditions when they changed; the parsed spec or None.
    `held(stored status, patch)` may hold the write back (handlers/status_pacing): True when it
    did, and has asked for the pass again."""
    parsed, errors = parse_spec(model, seen.spec)
    if parsed is not None:
        errors = cross_checks(parsed)
    conditions = validation_conditions(
        existing_conditions(seen.status),
        errors,
        generation=seen.generation,
        now=now(),
        ready_when_valid=ready_when_valid,
    )
    patch = status_patch(seen.status, conditions, seen.generation, extra)
    if patch is not None and not (held and held(seen.status, patch)):
        patch_status(plural, seen.name, patch, seen.namespace)
    return parsed if not errors else None
