"""What importing costs: the resident memory of a fresh interpreter after importing each library
the operator runs on, alone and in the order the operator imports them.

An operator with no objects to watch still holds its interpreter, its libraries and its own
modules; this is that floor, split by library, so a change that lowers per-object memory can be
told apart from one that only moves the floor. Each figure is a fresh `python -c` process
reading its own VmRSS from /proc after the import (median of a few runs: page-cache and
allocator noise is about 1 MB).

Usage: .venv/bin/python bench/imports.py [--runs 3]  (also the `imports` scenario of run.py)
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

# The third-party libraries of `cg-operator run`, in the order its import pulls them in (the
# operator's own modules come last, in `OPERATOR_MODULE`). aiohttp is kopf's HTTP client.
LIBRARIES = (
    "yaml",
    "pydantic",
    "jinja2",
    "prometheus_client",
    "aiohttp",
    "kubernetes",
    "kopf",
)
# What `cg-operator run` imports before it starts kopf (cli.py imports it inside `run`).
OPERATOR_MODULE = "cg_operator.handlers.runner"

_PROBE = """
import sys
for name in sys.argv[1:]:
    __import__(name)
with open('/proc/self/status') as status:
    for line in status:
        if line.startswith('VmRSS'):
            print(int(line.split()[1]))
"""


def rss_after(modules: Sequence[str], runs: int) -> float:
    """Median VmRSS in MB of a fresh interpreter that imported `modules`."""
    samples = []
    for _ in range(runs):
        out = subprocess.run(  # noqa: S603 - our own interpreter, our own probe
            [sys.executable, "-c", _PROBE, *modules],
            check=True,
            capture_output=True,
            text=True,
        )
        samples.append(int(out.stdout.strip()) / 1024)
    return round(statistics.median(samples), 1)


def measure(runs: int = 3) -> dict[str, Any]:
    """The bare interpreter, each library alone and cumulatively, and the operator's import."""
    bare = rss_after([], runs)
    alone = {name: round(rss_after([name], runs) - bare, 1) for name in LIBRARIES}
    cumulative, previous, imported = {}, bare, []
    for name in (*LIBRARIES, OPERATOR_MODULE):
        imported.append(name)
        now = rss_after(imported, runs)
        cumulative[name] = round(now - previous, 1)
        previous = now
    return {
        "bare_interpreter_mb": bare,
        "alone_mb": alone,
        "cumulative_mb": cumulative,
        "operator_imported_mb": previous,
    }


def table(result: dict[str, Any]) -> str:
    """The measurement as Markdown."""
    lines = [
        "| import | alone, MB | added in the operator's order, MB |",
        "|---|---|---|",
        f"| the interpreter (python -c pass) | {result['bare_interpreter_mb']} | |",
    ]
    for name, added in result["cumulative_mb"].items():
        alone = result["alone_mb"].get(name, "")
        lines.append(f"| {name} | {alone} | {added} |")
    lines.append(f"| all of `cg-operator run`'s imports | | {result['operator_imported_mb']} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Measure and print the table (and the JSON with --json)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="fresh interpreters per figure")
    parser.add_argument("--json", action="store_true", help="print the JSON instead")
    args = parser.parse_args(argv)
    result = measure(args.runs)
    print(json.dumps(result, indent=2) if args.json else table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
