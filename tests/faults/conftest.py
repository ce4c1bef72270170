"""Fault tests: the operator against a real control plane that is made to misbehave. They use
the integration tier's cluster fixtures and need everything it needs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.conftest import (  # noqa: F401 - shared fixtures and the failure report
    api,
    cluster,
    crds,
    pytest_runtest_makereport,
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/faults is marked `faults` (and `integration`: it needs a cluster)."""
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.faults)
            item.add_marker(pytest.mark.integration)
