"""The operator starts against the real cluster, reports live, and stops cleanly on SIGTERM."""

from __future__ import annotations

from tests.integration.conftest import OperatorProcess


def test_operator_starts_reports_live_and_stops_cleanly(operator: OperatorProcess) -> None:
    assert operator.healthy()
    assert operator.stop() == 0
    log = operator.log()
    assert "cg-operator starting; watching the whole cluster" in log
    assert "Traceback" not in log
