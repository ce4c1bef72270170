"""The real-pod tier (`make test-real`): a kind cluster, real images, real processes. It is not
part of `make test` (pyproject's addopts ignore tests/real): no machine of this project has a
container engine. Asked for without a kind cluster, it fails; it never skips."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from tests.support.cluster import LOCAL_KUBECONFIG, Cluster, find_kubectl


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test under tests/real is marked `real`."""
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.real)


@pytest.fixture(scope="session")
def kind_cluster() -> Cluster:
    """The kind cluster `make test-real` started; anything else fails the tier loudly."""
    path = Path(os.environ.get("KUBECONFIG") or LOCAL_KUBECONFIG)
    if not path.is_file():
        pytest.fail(f"no kubeconfig at {path}: run the real tier with `make test-real`")
    context = yaml.safe_load(path.read_text()).get("current-context", "")
    if not context.startswith("kind-"):
        pytest.fail(
            f"the real tier needs a kind cluster (context kind-*), not {context!r}: "
            "run `make test-real` (it starts one with Docker or Podman)"
        )
    return Cluster(kubeconfig=path, context=context, kubectl_binary=find_kubectl())
