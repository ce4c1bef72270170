"""Write crds/*.yaml from the API models (`make crds`), or check them (`make verify`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cg_operator.api.crd import render_all

CRDS = Path(__file__).resolve().parents[1] / "crds"


def main() -> int:
    """Generate, or with --check report stale or missing files and exit 1."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail when crds/ is not up to date")
    args = parser.parse_args()
    wanted = render_all()
    present = {p.name for p in CRDS.glob("*.yaml")}
    if args.check:
        stale = sorted(
            name
            for name, text in wanted.items()
            if not (CRDS / name).is_file() or (CRDS / name).read_text() != text
        )
        extra = sorted(present - set(wanted))
        for name in stale:
            print(f"crds/{name} is stale: run `make crds`", file=sys.stderr)
        for name in extra:
            print(f"crds/{name} is not generated from the models: remove it", file=sys.stderr)
        return 1 if stale or extra else 0
    CRDS.mkdir(exist_ok=True)
    for name in present - set(wanted):
        (CRDS / name).unlink()
    for name, text in wanted.items():
        (CRDS / name).write_text(text)
    print(f"wrote {len(wanted)} CRDs to {CRDS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
