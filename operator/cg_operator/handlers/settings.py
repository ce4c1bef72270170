"""kopf settings for cg-operator: our own finalizer and annotation prefix, no kopf chatter."""

from __future__ import annotations

from typing import Any

import kopf
from kopf._cogs.structs import bodies

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


class WithoutDiffBase(kopf.AnnotationsDiffBaseStorage):
    """kopf's diff base, left empty. kopf builds one for every event of every watched object
    (a deep copy of the body without its status) to find what changed for on.create, on.update,
    on.resume and on.field handlers, daemons and timers. The operator has none of those (it
    reconciles from its indexes on on.event, see `refuse_change_handlers`), so the copies were
    only cost: at a restart at N=100 11,572 deep copies, 5 of the 92 profiled seconds of its
    event loop and passes. Nothing is stored in an object (kopf writes the diff base only after
    a change handler)."""

    def build(self, *, body: bodies.Body, extra_fields: Any = None) -> bodies.BodyEssence:
        """No essence: no handler of the operator's compares one."""
        return bodies.BodyEssence()


def refuse_change_handlers(registry: kopf.OperatorRegistry) -> None:
    """Raise if a handler that needs kopf's diff base is registered (see WithoutDiffBase):
    with an empty base it would never see a change."""
    needing = [
        handler.id
        for group in (registry._changing, registry._spawning)
        for handler in group.get_all_handlers()
    ]
    if needing:
        raise RuntimeError(
            f"handlers {sorted(needing)} need kopf's diff base, which the operator leaves "
            "empty (handlers/settings.WithoutDiffBase): reconcile from on.event instead"
        )


def apply_settings(settings: kopf.OperatorSettings) -> None:
    """Configure kopf the way cg-operator runs: see CONTRIBUTING.md, "How reconciliation runs"."""
    settings.persistence.finalizer = KOPF_FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(
        prefix=ANNOTATION_PREFIX
    )
    settings.persistence.diffbase_storage = WithoutDiffBase(
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
    # it wrote (handlers/shards). The children's watches (handlers/informers) run kopf's
    # list+watch stream, which reads these selectors.
    selector = child_selector(shards.current(), f"{LABEL_MANAGED_BY}={MANAGED_BY}")
    for kind in CHILD_KINDS:
        if kind.group != GROUP:
            settings.watching.label_selectors[kind.group, kind.plural] = selector


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    """kopf start-up hook: apply the operator settings."""
    refuse_change_handlers(kopf.get_default_registry())
    apply_settings(settings)
