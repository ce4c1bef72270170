"""A tenant's pass writes its own metadata once: the finalizer and its plan's labels together,
and nothing when both are there."""

from __future__ import annotations

from cg_operator.api.constants import FINALIZER
from cg_operator.reconcile.tenant import own_metadata_patch

RING = {"appstore.commonground.nl/ring": "koplopers"}


def test_a_new_tenant_gets_its_finalizer_and_labels_in_one_patch() -> None:
    patch = own_metadata_patch({"finalizers": ["other.example/keep"]}, RING, FINALIZER)
    assert patch == {"metadata": {"finalizers": ["other.example/keep", FINALIZER], "labels": RING}}


def test_only_what_is_missing_is_patched() -> None:
    labelled = {"labels": {**RING, "team": "a"}}
    assert own_metadata_patch(labelled, RING, FINALIZER) == {
        "metadata": {"finalizers": [FINALIZER]}
    }
    finalized = {"finalizers": [FINALIZER], "labels": {"appstore.commonground.nl/ring": "volgers"}}
    assert own_metadata_patch(finalized, RING, FINALIZER) == {"metadata": {"labels": RING}}


def test_a_tenant_with_both_is_not_written() -> None:
    assert own_metadata_patch({"finalizers": [FINALIZER], "labels": RING}, RING, FINALIZER) is None
