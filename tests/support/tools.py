"""The command-line tools the tests run (helm, promtool, prometheus, kubectl), at the versions
hack/build-binaries.sh pins and builds into the binary cache. Tests marked `tools` need them;
`make test` builds them first, `make test-unit` leaves those tests out."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def bin_dir() -> Path:
    """The binary cache for the pinned Kubernetes version (hack/bin-dir.sh)."""
    out = subprocess.run(
        [str(REPO / "hack" / "bin-dir.sh")], capture_output=True, text=True, check=True
    ).stdout.strip()
    return Path(out)


def cached_tool(name: str) -> str | None:
    """The pinned build of a tool from the binary cache, else one on PATH, else None."""
    built = bin_dir() / name
    if built.is_file():
        return str(built)
    return shutil.which(name)


def require_tool(name: str) -> str:
    """Like `cached_tool`, but a test without the tool fails (never skips), saying how to get it."""
    found = cached_tool(name)
    if found is None:
        pytest.fail(
            f"no {name} in {bin_dir()} nor on PATH: run `make tools` "
            "(hack/build-binaries.sh tools builds helm, prometheus and promtool)"
        )
    return found
