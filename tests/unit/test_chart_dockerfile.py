"""The Dockerfile, the package and the Helm chart agree: the image's entry point is the wheel's
console script, it runs as the user the chart's securityContext names, on a base pinned by
digest, installing from wheels only, with the OCI labels a registry shows.

No image is built here (there is no container runtime in the test environment);
tests/integration/test_wheel.py runs the same wheel steps and starts the operator from them.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pending = f"{pending} {line}" if pending else line
        if pending.endswith("\\"):
            pending = pending[:-1].rstrip()
            continue
        word, _, rest = pending.partition(" ")
        out.append((word.upper(), rest.strip()))
        pending = ""
    return out


def stages() -> list[list[tuple[str, str]]]:
    """The instructions of each build stage (after its FROM)."""
    out: list[list[tuple[str, str]]] = []
    for word, rest in instructions():
        if word == "FROM":
            out.append([])
        if out:
            out[-1].append((word, rest))
    return out


def final(word: str) -> list[str]:
    """The arguments of every `word` instruction of the final stage."""
    return [rest for w, rest in stages()[-1] if w == word]


def build_args() -> dict[str, str]:
    """Every ARG with a default, wherever it is declared."""
    out = {}
    for word, rest in instructions():
        if word == "ARG" and "=" in rest:
            key, _, value = rest.partition("=")
            out[key] = value.strip('"')
    return out


def labels() -> dict[str, str]:
    """The final stage's LABELs, with build args substituted by their defaults."""
    args = build_args()
    text = " ".join(final("LABEL"))
    found = dict(re.findall(r'([\w.]+)="([^"]*)"', text))
    return {k: re.sub(r"\$\{(\w+)\}", lambda m: args[m[1]], v) for k, v in found.items()}


def chart_run_as_users() -> set[int]:
    """Every runAsUser in the chart's Deployment template (pod and container)."""
    text = (REPO / "charts/cg-operator/templates/deployment.yaml").read_text()
    return {int(n) for n in re.findall(r"runAsUser: (\d+)", text)}


def test_the_entry_point_is_the_wheels_console_script() -> None:
    scripts = PYPROJECT["project"]["scripts"]
    [entrypoint] = final("ENTRYPOINT")
    [cmd] = final("CMD")
    assert json.loads(entrypoint) == ["cg-operator"]
    assert json.loads(entrypoint)[0] in scripts
    assert scripts["cg-operator"] == "cg_operator.cli:main"
    assert json.loads(cmd) == ["run"]


def test_the_chart_runs_the_same_command() -> None:
    text = (REPO / "charts/cg-operator/templates/deployment.yaml").read_text()
    command = re.search(r"command: (\[.*\])", text)
    assert command is not None
    assert json.loads(command[1]) == [*json.loads(final("ENTRYPOINT")[0]), "run"]


def test_it_runs_as_the_non_root_user_the_chart_expects() -> None:
    [user] = final("USER")
    assert user == "65532:65532"
    assert chart_run_as_users() == {65532}
    values = yaml.safe_load((REPO / "charts/cg-operator/values.yaml").read_text())
    assert "securityContext" not in values  # the restricted context cannot be weakened


def test_the_base_is_python_3_11_slim_pinned_by_digest() -> None:
    base = build_args()["PYTHON_IMAGE"]
    assert base.startswith("python:3.11-slim")
    assert DIGEST.search(base), base
    assert PYPROJECT["project"]["requires-python"] == ">=3.11"
    froms = [rest for word, rest in instructions() if word == "FROM"]
    assert len(froms) == 2
    assert all(f.split()[0] == "${PYTHON_IMAGE}" for f in froms)


def test_the_first_stage_builds_wheels_and_the_second_installs_only_those() -> None:
    build, runtime = stages()
    build_runs = " ".join(rest for word, rest in build if word == "RUN")
    assert "pip wheel --no-deps --wheel-dir /wheels ." in build_runs
    assert "pip wheel --wheel-dir /wheels /wheels/cg_operator-" in build_runs
    runtime_runs = " ".join(rest for word, rest in runtime if word == "RUN")
    assert "pip install --no-index --find-links=/wheels cg-operator" in runtime_runs
    # Nothing in the final image compiles: no build tools installed, no sources copied.
    for tool in ("apt-get", "gcc", "build-essential", "python3-dev", "make"):
        assert tool not in runtime_runs, tool
    assert not [rest for word, rest in runtime if word in ("COPY", "ADD")]


def test_the_oci_labels_name_the_image_its_licence_and_version() -> None:
    found = labels()
    assert found["org.opencontainers.image.title"] == "cg-operator"
    assert found["org.opencontainers.image.licenses"] == PYPROJECT["project"]["license"]
    assert found["org.opencontainers.image.licenses"] == "EUPL-1.2"
    assert found["org.opencontainers.image.version"] == PYPROJECT["project"]["version"]
    assert "org.opencontainers.image.source" in found


def test_the_build_context_holds_only_what_the_wheel_needs() -> None:
    ignore = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert ignore[0] == "*"
    assert {"!pyproject.toml", "!README.md", "!operator/"} <= set(ignore)
    copies = [rest.split()[:-1] for word, rest in stages()[0] if word == "COPY"]
    assert sorted(src for srcs in copies for src in srcs) == [
        "README.md",
        "operator",
        "pyproject.toml",
    ]


@pytest.mark.parametrize("port", [8080, 8081])
def test_the_exposed_ports_are_the_charts(port: int) -> None:
    exposed = {int(p) for rest in final("EXPOSE") for p in rest.split()}
    assert port in exposed
