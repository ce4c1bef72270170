"""Print the top cumulative costs of a profile written by `bench/run.py --profile`.

Usage: .venv/bin/python bench/profile_top.py bench/results/<timestamp>-operator.prof [-n 30]
"""

from __future__ import annotations

import argparse
import pstats
from collections.abc import Sequence
from pathlib import Path


def top(path: Path, limit: int, sort: str = "cumulative") -> None:
    """Print the `limit` most expensive functions by `sort` (cumulative or tottime)."""
    stats = pstats.Stats(str(path))
    stats.strip_dirs().sort_stats(sort).print_stats(limit)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the arguments and print."""
    parser = argparse.ArgumentParser(description="top costs of a cProfile file")
    parser.add_argument("profile", type=Path)
    parser.add_argument("-n", type=int, default=30, help="how many functions (default: 30)")
    parser.add_argument("--sort", default="cumulative", choices=("cumulative", "tottime"))
    args = parser.parse_args(argv)
    top(args.profile, args.n, args.sort)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
