"""The App Store page at fleet scale: server-side time of the fleet view, a component's page and
the largest municipality's page (p50/p95 over repeated requests), each as a ratio to a bare
`kubectl get` of the same objects in the same run, and the page process's memory.

Run inside the benchmark session (`bench/run.py`, scenario `page`) once the fleet is converged,
or on its own against a cluster that holds a fleet:

    .venv/bin/python bench/page.py --kubeconfig .local/kubeconfig-bench
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
REQUESTS = 30
PAGE_TARGET_MS = 300.0  # the p95 target, server side
PAGE_MEMORY_TARGET_MB = 50.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _timed(call: Callable[[], Any], times: int) -> list[float]:
    call()  # warm: connections, templates, caches of the client
    out = []
    for _ in range(times):
        started = time.perf_counter()
        call()
        out.append((time.perf_counter() - started) * 1000)
    return out


def measure(kubeconfig: Path, kubectl: str, times: int = REQUESTS) -> dict[str, Any]:
    """Start the page as the kubeconfig's user, time it and the bare lists, stop it."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and package
        [
            sys.executable,
            "-m",
            "cg_operator",
            "appstore",
            "--address",
            f"127.0.0.1:{port}",
            "--kubeconfig",
            str(kubeconfig),
            "--kubeconfig-user",
            "--insecure-cookies",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
        cwd=REPO,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=1):  # noqa: S310 - local
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        started_rss = _rss_mb(process.pid)

        def get(path: str) -> Callable[[], Any]:
            def call() -> None:
                with urllib.request.urlopen(base + path, timeout=60) as response:  # noqa: S310
                    response.read()
                    assert response.status == 200, path

            return call

        def kubectl_get(*kinds: str) -> Callable[[], Any]:
            def call() -> None:
                subprocess.run(  # noqa: S603 - the bench's own kubectl
                    [
                        kubectl,
                        "--kubeconfig",
                        str(kubeconfig),
                        "get",
                        ",".join(kinds),
                        "-A",
                        "-o",
                        "json",
                    ],
                    check=True,
                    capture_output=True,
                )

            return call

        tenants = json.loads(
            subprocess.run(  # noqa: S603 - the bench's own kubectl
                [
                    kubectl,
                    "--kubeconfig",
                    str(kubeconfig),
                    "get",
                    "municipalitytenants",
                    "-o",
                    "json",
                ],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        )["items"]
        largest = max(tenants, key=lambda t: len(t["spec"].get("components") or []))["metadata"][
            "name"
        ]
        # Each page against a bare `kubectl get` of the objects it shows. The fleet view shows
        # every installation by ring but reads only the catalogue, whose status the operator
        # keeps the counts in: it is also timed against a bare get of the catalogue.
        pages = {
            "fleet": ("/fleet", ("cgcomponents", "municipalitytenants", "componentinstallations")),
            "component": (
                "/components/open-zaak",
                ("cgcomponents", "municipalitytenants", "componentinstallations"),
            ),
            "municipality": (
                f"/tenants/{largest}",
                (
                    "municipalitytenants",
                    "componentinstallations",
                    "cgcomponents",
                    "componentrollouts",
                ),
            ),
        }
        out: dict[str, Any] = {"tenants": len(tenants), "requests": times}
        for name, (path, kinds) in pages.items():
            page_ms = _timed(get(path), times)
            bare_ms = _timed(kubectl_get(*kinds), max(5, times // 3))
            out[name] = {
                "path": path,
                "p50_ms": round(_percentile(page_ms, 0.5), 1),
                "p95_ms": round(_percentile(page_ms, 0.95), 1),
                "kubectl_p50_ms": round(_percentile(bare_ms, 0.5), 1),
                "ratio_p50": round(_percentile(page_ms, 0.5) / _percentile(bare_ms, 0.5), 2),
            }
        catalogue_ms = _timed(kubectl_get("cgcomponents"), max(5, times // 3))
        out["fleet"]["kubectl_catalogue_p50_ms"] = round(_percentile(catalogue_ms, 0.5), 1)
        out["rss_mb_started"] = round(started_rss, 1)
        out["rss_mb_after"] = round(_rss_mb(process.pid), 1)
        out["rss_mb_added"] = round(out["rss_mb_after"] - started_rss, 1)
        return out
    finally:
        process.terminate()
        process.wait(timeout=15)


def table(result: dict[str, Any]) -> str:
    header = (
        f"| App Store page at N={result['tenants']} ({result['requests']} requests each) "
        "| p50 ms | p95 ms | bare `kubectl get` p50 ms | ratio (p50) |"
    )
    lines = ["", header, "|---|---|---|---|---|"]
    for name in ("fleet", "component", "municipality"):
        r = result[name]
        cells = [r["p50_ms"], r["p95_ms"], r["kubectl_p50_ms"], r["ratio_p50"]]
        lines.append(f"| {name} `{r['path']}` | " + " | ".join(map(str, cells)) + " |")
    lines.append(
        f"| bare `kubectl get cgcomponents` (what the fleet view reads) | "
        f"{result['fleet']['kubectl_catalogue_p50_ms']} | | | |"
    )
    lines.append(
        f"| page process RSS: at start / after / added | {result['rss_mb_started']} | "
        f"{result['rss_mb_after']} | {result['rss_mb_added']} MB | |"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--kubeconfig", type=Path, default=REPO / ".local" / "kubeconfig-bench")
    parser.add_argument("--kubectl", default="kubectl")
    parser.add_argument("--requests", type=int, default=REQUESTS)
    args = parser.parse_args(argv)
    result = measure(args.kubeconfig, args.kubectl, args.requests)
    print(json.dumps(result, indent=2))
    print(table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
