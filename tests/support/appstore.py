"""The App Store page as a child process, people who use it (a ServiceAccount token each, as an
authenticating proxy would forward a person's token), and the chart's user roles installed for
them under a test name."""

from __future__ import annotations

import http.cookiejar
import json
import re
import socket
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.chart import NAMESPACE, render
from tests.support.cluster import Cluster, wait_for

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def page_process(cluster: Cluster, log_path: Path, *extra: str) -> Iterator[str]:
    """`cg-operator appstore` on a free port, finding the API server through the admin
    kubeconfig but acting only with each request's token; yields its base URL."""
    port = free_port()
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cg_operator",
                "appstore",
                "--address",
                f"127.0.0.1:{port}",
                "--kubeconfig",
                str(cluster.kubeconfig),
                "--insecure-cookies",
                *extra,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
        base = f"http://127.0.0.1:{port}"

        def up() -> bool | None:
            if process.poll() is not None:
                raise AssertionError(f"the page exited:\n{log_path.read_text()}")
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=1) as r:  # noqa: S310
                    return r.status == 200 or None
            except OSError:
                return None

        try:
            wait_for("the page", up, timeout=30)
            yield base
        finally:
            process.terminate()
            process.wait(timeout=15)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@dataclass
class Response:
    status: int
    text: str
    location: str


class Person:
    """A browser-less visitor with a token (or none), keeping cookies like a browser."""

    def __init__(self, base: str, token: str | None) -> None:
        self.base, self.token = base, token
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), _NoRedirect
        )

    def request(self, path: str, form: dict[str, str] | None = None) -> Response:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        request = urllib.request.Request(self.base + path, data=data)  # noqa: S310 - local page
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with self.opener.open(request, timeout=30) as response:
                return Response(response.status, response.read().decode(), "")
        except urllib.error.HTTPError as error:
            return Response(error.code, error.read().decode(), error.headers.get("Location", ""))

    def get(self, path: str) -> Response:
        return self.request(path)

    def post(self, path: str, form: dict[str, str], *, from_page: str) -> Response:
        """Submit a form as a browser would: with the CSRF token of the page it is on."""
        page = self.get(from_page)
        found = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert found, f"no form on {from_page}: {page.status} {page.text[:300]}"
        return self.request(path, {**form, "csrf": found.group(1)})


def service_account_token(cluster: Cluster, name: str, namespace: str) -> str:
    cluster.kubectl("create", "namespace", namespace, check=False)
    cluster.kubectl("create", "serviceaccount", name, "-n", namespace, check=False)
    return cluster.kubectl("create", "token", name, "-n", namespace, "--duration=1h").stdout.strip()


def user_roles(fullname: str, values: dict[str, Any]) -> list[dict[str, Any]]:
    """The chart's user roles and self-service policy, rendered under `fullname` (without the
    operator's leader-election Role, which lives in the release namespace)."""
    objects = render(
        None,
        *("--set", "leaderElection.enabled=false", "--set", "replicas=1"),
        "--set",
        f"fullnameOverride={fullname}",
        "--set-json",
        f"userRoles={json.dumps({'enabled': True, **values})}",
    )
    wanted = {
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
    }
    return [
        o
        for o in objects
        if o["kind"] in wanted and o["metadata"]["name"] != fullname  # not the operator's own
    ]


def subject(name: str, namespace: str) -> dict[str, str]:
    return {"kind": "ServiceAccount", "name": name, "namespace": namespace}


OPERATOR_NAMESPACE = NAMESPACE


RING_LABEL = "appstore.commonground.nl/ring"


def make_tenant(name: str, ring: str, code: str, *components: str) -> dict[str, Any]:
    """A tenant named t-<prefix>-<town>, in its own namespace, data deleted with it."""
    return {
        "apiVersion": "appstore.commonground.nl/v1alpha1",
        "kind": "MunicipalityTenant",
        "metadata": {"name": name},
        "spec": {
            "municipality": {"name": name.rsplit("-", 1)[-1].title(), "code": code},
            "ring": ring,
            "namespace": name,
            "deletionPolicy": "Delete",
            "components": [{"name": c, "offering": "container"} for c in components],
        },
    }


def with_second_version(component: dict[str, Any], version: str = "1.1.0") -> dict[str, Any]:
    """The catalogue entry with a copy of its first version as `version`."""
    first = component["spec"]["versions"][0]
    second = json.loads(json.dumps(first).replace(first["version"], version))
    component["spec"]["versions"] = [first, second]
    return component


def approval_rollout(
    name: str, component: str, version: str, selector: dict[str, str]
) -> dict[str, Any]:
    """A rollout of one wave that waits for approval and bakes for a second."""
    return {
        "apiVersion": "appstore.commonground.nl/v1alpha1",
        "kind": "ComponentRollout",
        "metadata": {"name": name},
        "spec": {
            "component": component,
            "version": version,
            "waves": [
                {
                    "name": "koplopers",
                    "tenantSelector": {"matchLabels": selector},
                    "requireApproval": True,
                    "bakeTime": "1s",
                }
            ],
        },
    }
