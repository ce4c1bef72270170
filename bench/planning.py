"""Planning cost in process: every installation of the fleet planned as a pass plans it.

Planning (render the templates, parse the YAML, write each configuration's YAML) is the
operator's CPU per pass; this measures it without a cluster, against the same planning in the
same run with PyYAML's pure-Python parser, constructor and emitter (`--against python`: what
the operator used first; libyaml and the templates' own construction are what it ships with),
with PyYAML's Python emitter only (`--against python-emitter`) or with PyYAML's safe
constructor for the templates (`--against safe-constructor`), or with libyaml's parser alone
(`--against parser-only`: PyYAML's constructor and emitter), ABBA-paired.

Usage: .venv/bin/python bench/planning.py [-n 342] [--pairs 3] [--against safe-constructor]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fleet
import raw

from cg_operator.reconcile.validation import Catalogue
from cg_operator.render import environment


def plan_fleet(tenants: Sequence[Mapping[str, Any]], catalogue: Catalogue) -> int:
    """Plan every tenant and each of its installations; the number of objects planned."""
    count = 0

    def apply(obj: dict[str, Any]) -> dict[str, Any]:
        nonlocal count
        count += 1
        return {**obj, "metadata": {**obj["metadata"], "uid": "bench"}}

    for tenant in tenants:
        raw.apply_tenant(
            {**tenant, "metadata": {**tenant["metadata"], "uid": "t"}}, catalogue, apply
        )
    return count


# Of each variant: (the configurations' parser, the templates' loader, libyaml's emitter where it
# writes the same text or None for PyYAML's).
VARIANTS: dict[str, tuple[type[Any], type[Any], type[Any] | None]] = {
    "libyaml": (yaml.CSafeLoader, environment._TEMPLATE_LOADER, yaml.CSafeDumper),
    "python": (yaml.SafeLoader, yaml.SafeLoader, None),
    "python-emitter": (yaml.CSafeLoader, environment._TEMPLATE_LOADER, None),
    "safe-constructor": (yaml.CSafeLoader, yaml.CSafeLoader, yaml.CSafeDumper),
    "parser-only": (yaml.CSafeLoader, yaml.CSafeLoader, None),
}


def timed(
    variant: str, tenants: Sequence[Mapping[str, Any]], catalogue: Catalogue
) -> tuple[float, int]:
    """Seconds to plan the fleet with a variant's parser and emitter, and the objects planned."""
    saved = environment._LOADER, environment._TEMPLATE_LOADER, environment._FAST_DUMPER
    environment._LOADER, environment._TEMPLATE_LOADER, environment._FAST_DUMPER = VARIANTS[variant]
    try:
        started = time.perf_counter()
        count = plan_fleet(tenants, catalogue)
        return time.perf_counter() - started, count
    finally:
        environment._LOADER, environment._TEMPLATE_LOADER, environment._FAST_DUMPER = saved


def main(argv: Sequence[str] | None = None) -> int:
    """Run the pairs and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=342)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument(
        "--against", choices=[v for v in VARIANTS if v != "libyaml"], default="python"
    )
    args = parser.parse_args(argv)
    catalogue_objects = fleet.bench_catalogue(fleet.load_catalogue())
    tenants = fleet.fleet(args.n, catalogue_objects)
    catalogue = raw.parse_catalogue(list(catalogue_objects.values()))
    installations = sum(len(t["spec"]["components"]) for t in tenants)
    shipped: list[float] = []
    baseline: list[float] = []
    objects = 0
    for pair in range(args.pairs):
        order = (("libyaml", shipped), (args.against, baseline))
        for variant, into in order if pair % 2 == 0 else reversed(order):
            seconds, objects = timed(variant, tenants, catalogue)
            into.append(seconds)
    ratios = [a / b for a, b in zip(shipped, baseline, strict=True)]
    fast, slow = statistics.median(shipped), statistics.median(baseline)
    rows = [
        (f"N={args.n}: {installations} installations, {objects} objects", "libyaml", args.against),
        ("---", "---", "---"),
        ("median seconds", f"{fast:.2f}", f"{slow:.2f}"),
        (
            "ms per installation",
            f"{1000 * fast / installations:.2f}",
            f"{1000 * slow / installations:.2f}",
        ),
        (f"per-pair ratio libyaml/{args.against}", ", ".join(f"{r:.2f}" for r in ratios), ""),
    ]
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
