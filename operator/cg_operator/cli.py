"""The `cg-operator` command line: `run` starts the operator, `version` prints its version."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from cg_operator import __version__


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every sub-command."""
    parser = argparse.ArgumentParser(
        prog="cg-operator",
        description="The App Store for Common Ground components, as a Kubernetes operator.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run the operator in the foreground until interrupted")
    run.add_argument(
        "-n",
        "--namespace",
        action="append",
        default=[],
        metavar="NS",
        help="watch only these namespaces for namespaced kinds (repeatable); "
        "default: the whole cluster",
    )
    run.add_argument(
        "--liveness",
        default="http://0.0.0.0:8080/healthz",
        metavar="URL",
        help="where kopf serves its liveness probe (default: %(default)s); '' disables it",
    )
    run.add_argument("-v", "--verbose", action="store_true", help="log at debug level")
    commands.add_parser("version", help="print the version and exit")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `cg-operator` console script; returns the process exit code."""
    args = build_parser().parse_args(argv)
    if args.command == "version":
        print(f"cg-operator {__version__}")
        return 0
    # Imported here so that `cg-operator version` and `--help` work without a cluster or kopf's
    # start-up cost.
    from cg_operator.handlers.runner import run_operator  # noqa: PLC0415

    run_operator(
        namespaces=tuple(args.namespace),
        liveness_endpoint=args.liveness or None,
        verbose=args.verbose,
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
