"""Progress-only status changes are spaced per object; what a rollout, a summary or a person
waits for is written at once."""

from __future__ import annotations

from typing import Any

import pytest

from cg_operator.handlers.status_pacing import StatusPacing
from cg_operator.reconcile.status import progress_only


def status(ready: str, reason: str, **fields: Any) -> dict[str, Any]:
    return {
        "observedGeneration": 2,
        "observedVersion": "1.29.1",
        "inventory": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "open-zaak"}],
        "conditions": [
            {"type": "Ready", "status": ready, "reason": reason, "message": reason},
            {"type": "Configured", "status": "False", "reason": "Configuring", "message": ""},
        ],
        **fields,
    }


MOVING = status("False", "Progressing")


@pytest.mark.parametrize(
    ("current", "patch", "progress"),
    [
        # The configuration Job started after the workloads rolled: a new reason, still False.
        pytest.param(MOVING, status("False", "Configuring"), True, id="message-moves"),
        pytest.param(MOVING, status("False", "Progressing", lastProbe={"at": "x"}), True),
        # Ready's transitions are what rollouts and summaries wait for.
        pytest.param(MOVING, status("True", "Available"), False, id="ready-turns-true"),
        pytest.param(status("True", "Available"), MOVING, False, id="ready-turns-false"),
        # The version that runs, the spec reconciled to, and the children applied.
        pytest.param(MOVING, status("False", "Progressing", observedVersion="1.30.0"), False),
        pytest.param(MOVING, status("False", "Progressing", observedGeneration=3), False),
        pytest.param(MOVING, status("False", "Progressing", inventory=[]), False, id="inventory"),
        # The first status an object gets is written at once: `kubectl get cgi` shows it.
        pytest.param({}, MOVING, False, id="first-status"),
        pytest.param(None, MOVING, False, id="no-status"),
    ],
)
def test_progress_only_is_a_change_a_reader_may_see_late(
    current: dict[str, Any] | None, patch: dict[str, Any], progress: bool
) -> None:
    assert progress_only(current, patch) is progress


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_progress_write_waits_until_the_window_since_the_last_write_ends() -> None:
    clock = Clock()
    pacing = StatusPacing(window=5.0, clock=clock)
    key = ("gm0014-groningen", "open-zaak")
    assert pacing.wait(key) == 0.0, "never written (or restarted): due at once"
    pacing.wrote(key)
    clock.now += 2.0
    assert pacing.wait(key) == pytest.approx(3.0)
    assert pacing.wait(("gm0014-groningen", "objecten")) == 0.0, "per object"
    clock.now += 3.0
    assert pacing.wait(key) == 0.0
    pacing.wrote(key)
    pacing.forget(key)
    assert pacing.wait(key) == 0.0, "a deleted object's successor starts fresh"
