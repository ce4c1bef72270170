"""Copy the files the Helm chart needs from their one source into the chart, or check them.

Helm reads only files inside a chart (and does not follow symlinks out of it reliably), so the
chart carries copies: the generated CRDs (crds/*.yaml -> charts/cg-operator/crds/) and the
monitoring files (monitoring/alerts.yaml and monitoring/dashboard.json ->
charts/cg-operator/files/). `--check` changes nothing and exits 1 when a copy differs, is
missing, or has no source any more.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHART = Path("charts") / "cg-operator"


@dataclass(frozen=True)
class Mirror:
    """Files matching `pattern` in `source` are copied to `target` (both relative to the repo).
    With `exclusive`, every file in `target` matching the pattern must have a source."""

    source: Path
    target: Path
    pattern: str
    exclusive: bool


MIRRORS: tuple[Mirror, ...] = (
    Mirror(Path("crds"), CHART / "crds", "*.yaml", exclusive=True),
    Mirror(Path("monitoring"), CHART / "files", "alerts.yaml", exclusive=False),
    Mirror(Path("monitoring"), CHART / "files", "dashboard.json", exclusive=False),
)


def plan(repo: Path) -> tuple[dict[Path, bytes], list[Path]]:
    """(target path -> wanted content, target files without a source), relative to repo."""
    wanted: dict[Path, bytes] = {}
    orphans: list[Path] = []
    for mirror in MIRRORS:
        sources = sorted((repo / mirror.source).glob(mirror.pattern))
        if not sources:
            raise SystemExit(f"{mirror.source / mirror.pattern}: no source file")
        for source in sources:
            wanted[mirror.target / source.name] = source.read_bytes()
        if mirror.exclusive:
            names = {s.name for s in sources}
            orphans += [
                p.relative_to(repo)
                for p in sorted((repo / mirror.target).glob(mirror.pattern))
                if p.name not in names
            ]
    return wanted, orphans


def main(argv: list[str] | None = None) -> int:
    """Copy, or with --check report every stale, missing or orphaned copy and exit 1."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="fail when the chart's copies are not up to date"
    )
    parser.add_argument("--repo", type=Path, default=REPO, help="repository root (for tests)")
    args = parser.parse_args(argv)
    repo: Path = args.repo.resolve()
    wanted, orphans = plan(repo)
    if args.check:
        stale = [
            path
            for path, content in wanted.items()
            if not (repo / path).is_file() or (repo / path).read_bytes() != content
        ]
        for path in stale:
            print(f"{path} is stale: run `python hack/chart_sync_crds.py`", file=sys.stderr)
        for path in orphans:
            print(
                f"{path} has no source any more: run `python hack/chart_sync_crds.py`",
                file=sys.stderr,
            )
        return 1 if stale or orphans else 0
    for path in orphans:
        (repo / path).unlink()
    written = 0
    for path, content in wanted.items():
        target = repo / path
        if not target.is_file() or target.read_bytes() != content:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
            written += 1
    print(f"chart copies: {written} written, {len(orphans)} removed, {len(wanted)} in total")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
