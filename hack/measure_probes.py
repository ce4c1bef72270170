"""Probe overhead: what the prober sustains, against a raw aiohttp loop measured in the same run.

1. Capacity: N targets probed back to back (interval 0) for a fixed time, with the default
   concurrency; the baseline is a bare aiohttp GET loop with the same concurrency against the
   same local server. Reports probes/s of each and the ratio.
2. Cost at the default interval (30 s): the example fleet's probe count and a national one
   (4,000 installations), run for one interval: probes/s and the CPU share of a core the
   process used.

Usage: .venv/bin/python hack/measure_probes.py [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.http_server import Behaviour, LocalServer

from cg_operator.health.guard import ProbePolicy
from cg_operator.health.prober import Prober, ProberSettings, Target

LOCAL = ProbePolicy.parse(["127.0.0.0/8"])


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def prober_run(server: LocalServer, targets: int, interval: float, seconds: float) -> float:
    """Probes per second the prober completed with `targets` targets."""
    settings = ProberSettings(interval=interval, policy=LOCAL, refresh=3600)
    prober = Prober(settings, on_change=lambda key: None)
    prober.start()
    for n in range(targets):
        prober.set_target(
            n, Target(f"{server.base}/healthz", "c", "SaaS", allowed_hosts=("127.0.0.1",))
        )
    started, before = time.monotonic(), prober.probes_run
    time.sleep(seconds)
    done = prober.probes_run - before
    elapsed = time.monotonic() - started
    prober.stop()
    return done / elapsed


async def raw_loop(server: LocalServer, concurrency: int, seconds: float) -> float:
    """Probes per second of bare GETs, `concurrency` at a time."""
    done = 0
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as s:

        async def worker() -> None:
            nonlocal done
            while time.monotonic() < deadline:
                async with s.get(f"{server.base}/healthz", allow_redirects=False) as response:
                    await response.read()
                done += 1

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return done / (time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    server = LocalServer().start()
    server.set("/healthz", Behaviour(200))
    concurrency = ProberSettings().concurrency
    print(f"capacity, {concurrency} at a time, {args.seconds:g} s each (ABBA):")
    ours, raw = [], []
    for order in ("prober", "raw", "raw", "prober"):
        if order == "prober":
            ours.append(prober_run(server, 64, 0.0, args.seconds))
        else:
            raw.append(asyncio.run(raw_loop(server, concurrency, args.seconds)))
    mean_ours, mean_raw = sum(ours) / 2, sum(raw) / 2
    ratio = mean_ours / mean_raw
    print(f"  prober {mean_ours:.0f} probes/s, raw aiohttp {mean_raw:.0f}/s, ratio {ratio:.2f}")
    interval = ProberSettings().interval
    fleets = (
        ("examples outside the cluster (5 SaaS)", 5),
        ("examples in the cluster (45)", 45),
        ("national (4000)", 4000),
    )
    for label, targets in fleets:
        cpu, wall = cpu_seconds(), time.monotonic()
        rate = prober_run(server, targets, interval, interval)
        share = (cpu_seconds() - cpu) / (time.monotonic() - wall)
        print(
            f"  default interval {interval:g} s, {label}: {rate:.2f} probes/s, "
            f"{share * 100:.1f}% of a core (process, server included)"
        )
    server.stop()


if __name__ == "__main__":
    main()
