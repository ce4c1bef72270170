"""Run the operator and, on SIGUSR2, write where its memory is: each kopf index's contents and
kopf's per-object memories, sized by walking them, and (with tracemalloc on) the live heap by
the file that allocated it.

The steady RSS grows with the fleet; this says which structure grows with it, so a change can
aim at the largest one. Sizes are `sys.getsizeof` summed over everything reachable from a
structure, each object once per structure; code, modules, classes, functions and the event
loop are not followed (shared with the rest of the process). tracemalloc slows the operator
and adds its own memory, so its run says where memory goes, not how much RSS is.

Usage: python bench/heap.py OUT.json run --liveness ... (the arguments of cg_operator); then
`kill -USR2 <pid>` writes OUT.json (run.py --heap does this at full N).
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
import runpy
import signal
import sys
import threading
import tracemalloc
import types
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

MB = 1024 * 1024
# Not followed: shared with the whole process, or references to the machinery, not data.
_OPAQUE = (
    type,
    types.ModuleType,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.CodeType,
    types.FrameType,
    types.CoroutineType,
    types.GeneratorType,
    asyncio.AbstractEventLoop,
    asyncio.Future,
    logging.Logger,
    threading.Thread,
)
# Allocation sites grouped by the library that allocated (first match wins).
_GROUPS = (
    ("/cg_operator/", "cg_operator"),
    ("/kopf/", "kopf"),
    ("/json/", "json (decoded watch events)"),
    ("/aiohttp/", "aiohttp"),
    ("/kubernetes/", "kubernetes client"),
    ("/pydantic", "pydantic"),
    ("/jinja2/", "jinja2"),
    ("/yaml/", "yaml"),
    ("<frozen", "imports"),
)


def deep_size(roots: Iterable[Any]) -> int:
    """Bytes reachable from `roots`, each object counted once."""
    seen: set[int] = set()
    stack, total = list(roots), 0
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, _OPAQUE):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        if isinstance(obj, dict):
            stack.extend(obj.keys())
            stack.extend(obj.values())
        elif isinstance(obj, (list, tuple, set, frozenset)):
            stack.extend(obj)
        elif not isinstance(obj, (str, bytes, int, float, bool)) and obj is not None:
            if hasattr(obj, "__dict__"):
                stack.append(vars(obj))
            for slot in getattr(type(obj), "__slots__", ()):
                if hasattr(obj, slot):
                    stack.append(getattr(obj, slot))
    return total


def _kopf_structures() -> dict[str, Any]:
    """Each kopf index (by its handler id), each child store of the operator's own watches (by
    its index name) and kopf's per-object memories, sized."""
    from kopf._core.engines.indexing import OperatorIndexers  # noqa: PLC0415 - kopf is loaded
    from kopf._core.reactor.inventory import ResourceMemories  # noqa: PLC0415

    from cg_operator.handlers.observed import STORES  # noqa: PLC0415 - the operator is loaded

    indexes, memories = {}, []
    for name, store in STORES.items():
        indexes[name] = {"objects": store.count(), "mb": round(deep_size([store]) / MB, 2)}
    for obj in gc.get_objects():
        if isinstance(obj, OperatorIndexers):
            for handler_id, indexer in obj.items():
                reverse = getattr(indexer.index, "_Index__reverse", {})
                indexes[str(handler_id)] = {
                    "objects": len(reverse),
                    "mb": round(deep_size([indexer.index]) / MB, 2),
                }
        elif isinstance(obj, ResourceMemories):
            items = obj._items  # kopf keeps no public view of its per-object memories
            memories.append({"objects": len(items), "mb": round(deep_size([items]) / MB, 2)})
    return {"indexes": indexes, "memories": memories}


def _traced() -> dict[str, Any]:
    """The live heap by allocating library, and the largest allocation sites."""
    snapshot = tracemalloc.take_snapshot()
    groups: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for stat in snapshot.statistics("filename"):
        name = stat.traceback[0].filename
        group = next((label for key, label in _GROUPS if key in name), "other")
        groups[group][0] += stat.size
        groups[group][1] += stat.count
    top = [
        {"site": str(s.traceback[0]), "mb": round(s.size / MB, 2), "blocks": s.count}
        for s in snapshot.statistics("lineno")[:30]
    ]
    return {
        "traced_mb": round(sum(size for size, _ in groups.values()) / MB, 1),
        "by_library_mb": {k: round(v[0] / MB, 2) for k, v in sorted(groups.items())},
        "top_sites": top,
    }


def _write(out: Path) -> None:
    gc.collect()
    result: dict[str, Any] = {"pid": os.getpid(), **_kopf_structures()}
    if tracemalloc.is_tracing():
        result["tracemalloc"] = _traced()
    partial = out.with_suffix(".partial")
    partial.write_text(json.dumps(result, indent=2))
    partial.rename(out)  # whole or absent: the reader polls for it


def main() -> int:
    """Run `python -m cg_operator <args>`, answering SIGUSR2 with OUT (CG_HEAP_TRACE=1: traced)."""
    out, args = Path(sys.argv[1]), sys.argv[2:]
    if os.environ.get("CG_HEAP_TRACE") == "1":
        tracemalloc.start(1)
    # Python runs the handler on the main thread, between two steps of kopf's event loop: the
    # structures are not changing while they are walked.
    signal.signal(signal.SIGUSR2, lambda *_: _write(out))
    sys.argv = ["cg_operator", *args]
    try:
        runpy.run_module("cg_operator", run_name="__main__", alter_sys=True)
    except SystemExit as stop:
        return int(stop.code or 0)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
