"""kopf runs with our own finalizer and annotation prefix and posts no events of its own."""

from __future__ import annotations

import kopf

from cg_operator.handlers.settings import apply_settings


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
