"""Running the real helm binary on charts/cg-operator, for the chart's unit and integration
tests."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.tools import require_tool

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "cg-operator"
KUBE_VERSION = "1.36.0"
NAMESPACE = "cg-system"


def helm_binary() -> str:
    """helm from the binary cache (hack/build-binaries.sh), else from PATH; fails without."""
    return require_tool("helm")


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run helm with its own config and cache folders under the test's temporary space."""
    home = Path(tempfile.gettempdir()) / "cg-operator-test-helm"
    env = {
        **os.environ,
        "HELM_CONFIG_HOME": str(home / "config"),
        "HELM_CACHE_HOME": str(home / "cache"),
        "HELM_DATA_HOME": str(home / "data"),
    }
    result = subprocess.run(
        [helm_binary(), *args], capture_output=True, text=True, env=env, check=False
    )
    if check and result.returncode != 0:
        pytest.fail(f"helm {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return result


def template_args(values: Path | None, *extra: str) -> list[str]:
    """`helm template` of the chart as release `cg-operator` in cg-system for Kubernetes 1.36."""
    args = ["template", "cg-operator", str(CHART), "--namespace", NAMESPACE]
    args += ["--kube-version", KUBE_VERSION, *extra]
    if values is not None:
        args += ["--values", str(values)]
    return args


def render(values: Path | None, *extra: str) -> list[dict[str, Any]]:
    """Every object the chart renders (documents that are not empty)."""
    out = helm(*template_args(values, *extra)).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]
