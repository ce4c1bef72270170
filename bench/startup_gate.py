"""kopf's start-up index gate in process: n listed objects, each indexed by its own task that
then waits for the gate, as kopf's watcher and workers do; kopf's own ToggleSet against the
operator's (handlers/startup_gate.py) in the same run, ABBA-paired per size.

Usage: .venv/bin/python bench/startup_gate.py [--sizes 1000,2000,4000] [--pairs 2]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from kopf._cogs.aiokits import aiotoggles

from cg_operator.handlers import startup_gate

METHODS = ("make_toggle", "drop_toggle", "drop_toggles")
KOPF = {name: getattr(aiotoggles.ToggleSet, name) for name in METHODS}


@contextmanager
def kopf_original() -> Iterator[None]:
    """kopf's own methods for the duration."""
    patched = {name: getattr(aiotoggles.ToggleSet, name) for name in METHODS}
    for name, method in KOPF.items():
        setattr(aiotoggles.ToggleSet, name, method)
    try:
        yield
    finally:
        for name, method in patched.items():
            setattr(aiotoggles.ToggleSet, name, method)


async def start_up(objects: int) -> float:
    """Seconds from the first listed object until every worker passed the gate."""
    gate = aiotoggles.ToggleSet(all)
    listing = await gate.make_toggle(name="listing")  # the resource kind's list in progress

    async def worker(toggle: aiotoggles.Toggle) -> None:
        await asyncio.sleep(0)  # indexing the object
        await gate.drop_toggle(toggle)
        await gate.wait_for(True)

    started = time.perf_counter()
    tasks = []
    for i in range(objects):
        toggle = await gate.make_toggle(name=f"object-{i}")
        tasks.append(asyncio.create_task(worker(toggle)))
        if i % 100 == 0:
            await asyncio.sleep(0)  # the watch stream yields between pages
    await gate.drop_toggle(listing)
    await asyncio.gather(*tasks)
    return time.perf_counter() - started


def main(argv: Sequence[str] | None = None) -> int:
    """Run the pairs and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,2000,4000")
    parser.add_argument("--pairs", type=int, default=2)
    args = parser.parse_args(argv)
    startup_gate.install()
    print("| objects | kopf's gate, s | the operator's gate, s | ratio (pairs) |")
    print("|---|---|---|---|")
    for size in (int(s) for s in args.sizes.split(",")):
        original, ours = [], []
        for pair in range(args.pairs):
            for first in (True, False) if pair % 2 == 0 else (False, True):
                if first:
                    with kopf_original():
                        original.append(asyncio.run(start_up(size)))
                else:
                    ours.append(asyncio.run(start_up(size)))
        ratios = ", ".join(f"{a / b:.0f}" for a, b in zip(original, ours, strict=True))
        print(
            f"| {size} | {statistics.median(original):.2f} | {statistics.median(ours):.3f} "
            f"| {ratios} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
