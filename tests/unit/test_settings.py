"""kopf runs with our own finalizer and annotation prefix and posts no events of its own."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import kopf
import pytest

from cg_operator.handlers.runner import load_handlers
from cg_operator.handlers.settings import apply_settings, refuse_change_handlers

LIVE = Path(__file__).resolve().parents[1] / "data" / "live"


def test_kopf_uses_our_finalizer_and_annotation_prefix() -> None:
    settings = kopf.OperatorSettings()
    apply_settings(settings)
    # Not the operator's own finalizer: kopf strips its finalizer where it has no use for it.
    assert settings.persistence.finalizer == "appstore.commonground.nl/kopf"
    assert settings.persistence.progress_storage.prefix == "appstore.commonground.nl"
    assert settings.persistence.diffbase_storage.prefix == "appstore.commonground.nl"
    assert "kopf.zalando.org" not in repr(vars(settings.persistence))


def test_kopf_posts_no_events_and_runs_standalone() -> None:
    settings = kopf.OperatorSettings()
    apply_settings(settings)
    assert settings.posting.enabled is False
    assert settings.peering.standalone is True
    assert settings.watching.server_timeout is not None


def test_kopf_keeps_no_diff_base_of_what_it_watches() -> None:
    """kopf's diff base is a deep copy of each watched body on every event, used only by
    change handlers, which the operator does not have."""
    settings = kopf.OperatorSettings()
    apply_settings(settings)
    deployment = json.loads((LIVE / "deployment.json").read_text())
    assert settings.persistence.diffbase_storage.build(body=kopf.Body(deployment)) == {}


def test_the_operator_registers_no_handler_that_needs_a_diff_base() -> None:
    load_handlers()
    refuse_change_handlers(kopf.get_default_registry())


def test_a_change_handler_is_refused_at_start_up() -> None:
    registry = kopf.OperatorRegistry()

    @kopf.on.update(
        "appstore.commonground.nl", "v1alpha1", "componentinstallations", registry=registry
    )
    def on_update(**_: Any) -> None:
        """A handler that would wait for a change the empty diff base never shows."""

    with pytest.raises(RuntimeError, match="on_update"):
        refuse_change_handlers(registry)
