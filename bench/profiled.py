"""Run the operator under cProfile, every thread included, and write one merged profile.

`python -m cProfile -o OUT -m cg_operator run ...` profiles only the main thread (kopf's event
loop); the reconcile passes run on the work queue's threads. This wrapper gives each thread its
own profiler and merges them into OUT when the operator stops (SIGTERM).

Usage: python bench/profiled.py OUT.prof run --liveness ... (the arguments of cg_operator)
"""

from __future__ import annotations

import cProfile
import pstats
import runpy
import sys
import threading
from typing import Any

_profiles: list[cProfile.Profile] = []
_original_run = threading.Thread.run


def _profiled_run(self: threading.Thread) -> None:
    profile = cProfile.Profile()
    _profiles.append(profile)
    profile.enable()
    try:
        _original_run(self)
    finally:
        profile.disable()


def main() -> int:
    """Profile `python -m cg_operator <args>` and dump the merged stats."""
    out, args = sys.argv[1], sys.argv[2:]
    threading.Thread.run = _profiled_run  # type: ignore[method-assign]
    main_profile = cProfile.Profile()
    sys.argv = ["cg_operator", *args]
    main_profile.enable()
    code: Any = 0
    try:
        runpy.run_module("cg_operator", run_name="__main__", alter_sys=True)
    except SystemExit as stop:
        code = stop.code
    finally:
        main_profile.disable()
        stats = pstats.Stats(main_profile)
        for profile in list(_profiles):
            try:
                stats.add(profile)
            except (TypeError, ValueError):  # a profiler with nothing recorded
                continue
        stats.dump_stats(out)
    return int(code or 0)


if __name__ == "__main__":
    raise SystemExit(main())
