"""The dynamic client's discovery is looked up by one thread at a time (k8s/objects.resource):
its cache is rebuilt on a miss, and a worker reading it half-built failed its pass."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any

import pytest

from cg_operator.k8s import objects


class _Discovery:
    """Stands in for DynamicClient.resources: records whether each lookup ran under the lock."""

    def __init__(self) -> None:
        self.looked_up: list[tuple[str, str, bool]] = []

    def get(self, *, api_version: str, kind: str) -> Any:
        self.looked_up.append((api_version, kind, objects._DISCOVERY.locked()))
        return SimpleNamespace(api_version=api_version, kind=kind)


@pytest.fixture
def discovery(monkeypatch: pytest.MonkeyPatch) -> Iterator[_Discovery]:
    fake = _Discovery()
    objects.resource.cache_clear()
    monkeypatch.setattr(objects, "dynamic", lambda: SimpleNamespace(resources=fake))
    yield fake
    objects.resource.cache_clear()


def test_worker_threads_look_kinds_up_one_at_a_time(discovery: _Discovery) -> None:
    kinds = [("v1", "Secret"), ("v1", "ConfigMap"), ("apps/v1", "Deployment"), ("batch/v1", "Job")]
    with ThreadPoolExecutor(max_workers=4) as pool:
        found = list(pool.map(lambda k: objects.resource(*k), kinds * 3))

    assert [(r.api_version, r.kind) for r in found] == kinds * 3
    assert all(locked for _, _, locked in discovery.looked_up)
    # A kind found once is not looked up again (and takes no lock).
    before = len(discovery.looked_up)
    assert [objects.resource(*k) for k in kinds] == found[: len(kinds)]
    assert len(discovery.looked_up) == before
