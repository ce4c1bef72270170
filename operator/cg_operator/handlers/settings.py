"""kopf settings for cg-operator: our own finalizer and annotation prefix, no kopf chatter."""

from __future__ import annotations

from typing import Any

import kopf

from cg_operator.api.constants import (
    ANNOTATION_PREFIX,
    FIELD_MANAGER,
    GROUP,
    KOPF_FINALIZER,
    LABEL_MANAGED_BY,
    MANAGED_BY,
)
from cg_operator.handlers import shards
from cg_operator.handlers.observed import CHILD_KINDS
from cg_operator.reconcile.shards import child_selector

# Objects per page of the initial listing (see apply_settings).
LIST_PAGE_SIZE = 100


def apply_settings(settings: kopf.OperatorSettings) -> None:
    """Configure kopf the way cg-operator runs: see DESIGN.md, "Rules that keep it fast"."""
    settings.persistence.finalizer = KOPF_FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(
        prefix=ANNOTATION_PREFIX
    )
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=ANNOTATION_PREFIX, key="last-handled-configuration"
    )
    # Events are for domain actions, posted by our handlers; kopf's per-handler events are noise.
    settings.posting.enabled = False
    settings.posting.reporting_component = FIELD_MANAGER
    # A watch that the server silently drops must be re-established, not waited on forever.
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    # The initial listing in pages, as client-go's reflectors list: unpaged, a restart decoded
    # every stored object of a kind at once, in full, beside the copies the watch keeps.
    settings.watching.chunk_size = LIST_PAGE_SIZE
    settings.peering.standalone = True
    # Children are watched through the API server's label filter: the operator never lists or
    # caches objects it did not create (and never other people's Secrets); a shard only those
    # it wrote (handlers/shards).
    selector = child_selector(shards.current(), f"{LABEL_MANAGED_BY}={MANAGED_BY}")
    for kind in CHILD_KINDS:
        if kind.group != GROUP:
            settings.watching.label_selectors[kind.group, kind.plural] = selector


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    """kopf start-up hook: apply the operator settings."""
    apply_settings(settings)
