"""The operator's registries derive from api/kinds.py: a kind added there is watched, indexed,
held at start-up and labelled in metrics without a second list to keep in step."""

from __future__ import annotations

import kopf
import pytest

from cg_operator.api.kinds import ALL_KINDS, Kind
from cg_operator.handlers import startup_gate
from cg_operator.handlers.observed import CHILD_KINDS
from cg_operator.handlers.queue import _kind_of
from cg_operator.handlers.runner import HANDLER_MODULES, load_handlers
from tests.support.apiserver import OPERATOR_RESOURCES, OWN_KINDS


@pytest.fixture(scope="module")
def registry() -> kopf.OperatorRegistry:
    load_handlers()
    return kopf.get_default_registry()


@pytest.mark.parametrize("kind", ALL_KINDS, ids=lambda k: k.kind)
def test_every_kind_has_an_event_handler_in_the_module_it_names(
    kind: Kind, registry: kopf.OperatorRegistry
) -> None:
    modules = {
        h.fn.__module__
        for h in registry._watching.get_all_handlers()
        if h.selector is not None and h.selector.any_name == kind.plural
    }
    assert kind.handler_module in modules
    assert kind.handler_module in HANDLER_MODULES


@pytest.mark.parametrize("kind", ALL_KINDS, ids=lambda k: k.kind)
def test_every_kind_is_indexed_and_held_by_the_start_up_gate(
    kind: Kind, registry: kopf.OperatorRegistry
) -> None:
    indexes = {h.id: h.selector.any_name for h in registry._indexing.get_all_handlers()}
    children = {c.plural: c.index_name for c in CHILD_KINDS}
    name = kind.index or children.get(kind.plural)
    assert name is not None, f"{kind.kind} is neither indexed on its own nor as a child"
    assert indexes.get(name) == kind.plural
    assert name in startup_gate.INDEXES


@pytest.mark.parametrize("kind", ALL_KINDS, ids=lambda k: k.kind)
def test_the_work_queue_labels_each_kinds_passes_with_its_kind(kind: Kind) -> None:
    key = (kind.plural, "gm0363-amsterdam", "x") if kind.namespaced else (kind.plural, "x")
    assert _kind_of(key) == kind.kind
    assert _kind_of(("secrets", "x")) == "other"


def test_write_counts_cover_every_kind_the_operator_writes() -> None:
    """The idle and restart tests count writes to these resources: a child kind missing here
    could be rewritten on every pass unnoticed."""
    assert {k.plural for k in CHILD_KINDS} | OWN_KINDS == OPERATOR_RESOURCES
