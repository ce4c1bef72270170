"""The wheel, installed the way the Dockerfile installs it, runs the operator.

The same steps as the image build: `pip wheel --no-deps .` for the operator, `pip wheel` of
that wheel for every dependency (from the index), then a clean virtualenv that installs only
from those wheels (`--no-index`). Then what the image's `ENTRYPOINT ["cg-operator"]` and
`CMD ["run"]` do: `cg-operator version`, and `cg-operator run` against the real cluster until a
CGComponent is Ready. Nothing is imported from the source tree: the process runs in a temporary
folder with the virtualenv's own interpreter.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tomllib
import urllib.request
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.support.cluster import REPO, Cluster, wait_for

TEMPLATES = REPO / "operator" / "cg_operator" / "render" / "templates"
VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]


def _run(*args: str | Path, cwd: Path, timeout: float = 600) -> str:
    result = subprocess.run(
        [str(a) for a in args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=_clean_env(),
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, args))} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment without anything that would let Python find the source tree."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return {**env, **extra}


@dataclass(frozen=True)
class Installed:
    """The built wheel and the clean virtualenv it is installed in."""

    wheel: Path
    venv: Path
    workdir: Path

    @property
    def python(self) -> Path:
        """The virtualenv's interpreter."""
        return self.venv / "bin" / "python"

    @property
    def command(self) -> Path:
        """The console script the image's ENTRYPOINT names."""
        return self.venv / "bin" / "cg-operator"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """Build the wheels from a copy of the sources and install them in a clean virtualenv."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(
        REPO / "operator",
        source / "operator",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"),
    )
    wheels = work / "wheels"
    # Stage 1 of the Dockerfile.
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", wheels, ".", cwd=source)
    [wheel] = wheels.glob("cg_operator-*.whl")
    _run(sys.executable, "-m", "pip", "wheel", "--wheel-dir", wheels, wheel, cwd=work)
    # Stage 2: a clean environment that installs from those wheels only.
    venv = work / "venv"
    _run(sys.executable, "-m", "venv", venv, cwd=work)
    _run(
        venv / "bin" / "python",
        "-m",
        "pip",
        "install",
        "--no-index",
        "--find-links",
        wheels,
        "cg-operator",
        cwd=work,
    )
    return Installed(wheel=wheel, venv=venv, workdir=work)


def test_the_wheel_carries_the_templates_and_the_console_script(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as archive:
        names = set(archive.namelist())
        [entry_points] = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        scripts = archive.read(entry_points).decode()
    expected = {f"cg_operator/render/templates/{p.name}" for p in TEMPLATES.glob("*.j2")}
    # The App Store page's templates, its stylesheet and the vendored assets with their licences.
    page = TEMPLATES.parents[1] / "appstore"
    expected |= {
        f"cg_operator/{p.relative_to(page.parent)}"
        for p in [*(page / "templates").glob("*.j2"), *(page / "static").rglob("*")]
        if p.is_file()
    }
    assert "cg_operator/appstore/static/vendor/utrecht-component-library.LICENSE.md" in expected
    assert expected <= names
    assert "cg_operator/py.typed" in names
    assert "cg-operator = cg_operator.cli:main" in scripts
    assert "kubectl-cg = cg_operator.appstore.kubectl:main" in scripts
    assert installed.wheel.name.startswith(f"cg_operator-{VERSION}-")


def test_the_installed_package_renders_from_its_own_templates(installed: Installed) -> None:
    probe = (
        "import json, cg_operator\n"
        "from importlib.resources import files\n"
        "templates = files('cg_operator') / 'render' / 'templates'\n"
        "print(json.dumps({'file': cg_operator.__file__,"
        " 'templates': sorted(p.name for p in templates.iterdir())}))\n"
    )
    found = json.loads(_run(installed.python, "-c", probe, cwd=installed.workdir))
    assert Path(found["file"]).is_relative_to(installed.venv)
    assert found["templates"] == sorted(p.name for p in TEMPLATES.glob("*.j2"))


def test_version_prints_the_package_version(installed: Installed) -> None:
    out = _run(installed.command, "version", cwd=installed.workdir)
    assert out.strip() == f"cg-operator {VERSION}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@pytest.fixture
def running(installed: Installed, cluster: Cluster, crds: None) -> Iterator[tuple[int, Path]]:
    """`cg-operator run` from the virtualenv against the test cluster: (metrics port, log)."""
    health, metrics = _free_port(), _free_port()
    log_path = installed.workdir / f"operator-{health}.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [
                str(installed.command),
                "run",
                "--liveness",
                f"http://127.0.0.1:{health}/healthz",
                "--metrics-address",
                f"127.0.0.1:{metrics}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=installed.workdir,
            env=_clean_env(KUBECONFIG=str(cluster.kubeconfig)),
        )

        def live() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"cg-operator exited:\n{log_path.read_text()}")
            return _answers(health)

        try:
            wait_for("the installed operator's liveness endpoint", live, timeout=60)
            yield metrics, log_path
        finally:
            process.terminate()
            code = process.wait(timeout=30)
    assert code == 0, f"cg-operator exited with {code}:\n{log_path.read_text()}"


def test_the_installed_operator_makes_a_component_ready(
    running: tuple[int, Path], cluster: Cluster
) -> None:
    metrics_port, log_path = running
    component = yaml.safe_load((REPO / "examples" / "catalog" / "objecttypen.yaml").read_text())
    assert component["spec"]["requires"] == []
    name = f"wheel-{uuid.uuid4().hex[:8]}"
    component["metadata"] = {"name": name}
    cluster.apply(component)
    try:

        def ready() -> dict[str, str] | None:
            found = cluster.kubectl("get", "cgc", name, "-o", "json", check=False)
            if found.returncode != 0:
                return None
            status = json.loads(found.stdout).get("status") or {}
            conditions = {c["type"]: c for c in status.get("conditions") or []}
            condition = conditions.get("Ready")
            return condition if condition and condition["status"] == "True" else None

        condition = wait_for(f"CGComponent {name} to be Ready", ready, timeout=90)
        assert condition["reason"] == "Valid"
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as r:
            assert "cg_build_info" in r.read().decode()
        assert "Traceback" not in log_path.read_text()
    finally:
        cluster.kubectl("delete", "cgc", name, "--wait=false", check=False)
