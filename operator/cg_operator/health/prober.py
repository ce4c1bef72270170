"""The prober: every registered target probed once per interval, concurrently with a bound, on
its own thread and event loop, so probes never block reconciliation or kopf's watches.

Reconcile passes register what to probe (`set_target`) and read the latest result (`result`).
The prober asks for a reconcile pass of a target's owner (`on_change`) only when the outcome
changes (pass/fail, reason, status code) or the refresh period has passed, so a steady fleet
costs probes, not API writes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import aiohttp

from cg_operator import metrics
from cg_operator.api.installation import ProbeReason, ProbeResult
from cg_operator.health.guard import ProbePolicy
from cg_operator.health.http import classify_error, classify_status, probe_http, session_for

log = logging.getLogger(__name__)

Fetch = Callable[[float], tuple[int, str | None]]
"""A blocking GET (through the API server's service proxy): timeout -> (status, Location)."""


@dataclass(frozen=True)
class Target:
    """What to probe for one installation."""

    url: str
    component: str
    delivery: str
    allowed_hosts: tuple[str, ...] | None = None
    """The offering's allowedHosts for a user-given URL; None for a URL the operator built."""
    fetch: Fetch | None = None
    """Set to probe through the API server instead of connecting to `url` directly."""
    version: str = ""
    """The version the installation should run: a new one makes a new target, probed at once
    and never judged by a result from before the change."""


@dataclass(frozen=True)
class ProberSettings:
    """How often, how long, how many at once, and which networks are allowed."""

    interval: float = 30.0
    timeout: float = 5.0
    concurrency: int = 16
    refresh: float = 600.0
    policy: ProbePolicy = field(default_factory=ProbePolicy)
    ca_file: str | None = None


class Prober:
    """Probes registered targets on a background thread; thread-safe."""

    def __init__(self, settings: ProberSettings, on_change: Callable[[Hashable], None]) -> None:
        self.settings = settings
        self._on_change = on_change
        self._lock = threading.Lock()
        self._targets: dict[Hashable, Target] = {}
        self._results: dict[Hashable, ProbeResult] = {}
        self._due: dict[Hashable, float] = {}
        self._notified: dict[Hashable, float] = {}
        self._running: set[Hashable] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._executor = ThreadPoolExecutor(
            max_workers=settings.concurrency, thread_name_prefix="probe-proxy"
        )
        self.probes_run = 0

    def set_target(self, key: Hashable, target: Target | None) -> None:
        """Probe `target` for `key` from now on (None: stop probing it and forget its result).
        A new or changed target is probed at once."""
        with self._lock:
            if target is None:
                self._targets.pop(key, None)
                self._results.pop(key, None)
                self._due.pop(key, None)
                self._notified.pop(key, None)
                return
            if self._targets.get(key) == target:
                return
            self._targets[key] = target
            self._results.pop(key, None)
            self._due[key] = 0.0
        self._poke()

    def result(self, key: Hashable) -> ProbeResult | None:
        """The latest result for `key`'s current target, None until its first probe ends."""
        with self._lock:
            return self._results.get(key)

    def start(self) -> None:
        """Start the prober thread (idempotent)."""
        if self._thread is not None:
            return
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._thread_main, args=(ready,), name="prober", daemon=True
        )
        self._thread.start()
        ready.wait()

    def stop(self) -> None:
        """Stop probing; in-flight probes are cancelled."""
        self._stopping = True
        self._poke()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _poke(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None and not loop.is_closed():
            loop.call_soon_threadsafe(wake.set)

    def _thread_main(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._wake = asyncio.Event()
        ready.set()
        try:
            loop.run_until_complete(self._main())
        finally:
            loop.close()

    async def _main(self) -> None:
        settings = self.settings
        guarded = session_for(
            guarded=settings.policy, ca_file=settings.ca_file, concurrency=settings.concurrency
        )
        internal = session_for(
            guarded=None, ca_file=settings.ca_file, concurrency=settings.concurrency
        )
        bound = asyncio.Semaphore(settings.concurrency)
        tasks: set[asyncio.Task[None]] = set()
        assert self._wake is not None
        try:
            while not self._stopping:
                now = time.monotonic()
                for key, target in self._take_due(now):
                    session = guarded if target.allowed_hosts is not None else internal
                    task = asyncio.create_task(self._probe(key, target, session, bound))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                with self._lock:
                    next_due = min(self._due.values(), default=now + settings.interval)
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=max(0.05, next_due - now))
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await guarded.close()
            await internal.close()

    def _take_due(self, now: float) -> list[tuple[Hashable, Target]]:
        with self._lock:
            due = [
                (key, target)
                for key, target in self._targets.items()
                if self._due.get(key, 0.0) <= now and key not in self._running
            ]
            for key, _target in due:
                self._running.add(key)
                self._due[key] = now + self.settings.interval
            return due

    async def _probe(
        self,
        key: Hashable,
        target: Target,
        session: aiohttp.ClientSession,
        bound: asyncio.Semaphore,
    ) -> None:
        try:
            async with bound:
                result = await self._run(target, session)
        except Exception:  # a probe must never take the prober down
            log.exception("probe of %s failed unexpectedly", target.url)
            return
        finally:
            with self._lock:
                self._running.discard(key)
        self._record(key, target, result)

    async def _run(self, target: Target, session: aiohttp.ClientSession) -> ProbeResult:
        timeout = self.settings.timeout
        if target.fetch is None:
            return await probe_http(
                session,
                target.url,
                allowed_hosts=target.allowed_hosts,
                policy=self.settings.policy,
                timeout=timeout,
            )
        started = time.monotonic()
        loop = asyncio.get_running_loop()
        try:
            status, location = await asyncio.wait_for(
                loop.run_in_executor(self._executor, target.fetch, timeout), timeout + 1
            )
        except (TimeoutError, OSError) as error:
            latency = int((time.monotonic() - started) * 1000)
            return classify_error(error, target.url, timeout, latency)
        latency = int((time.monotonic() - started) * 1000)
        return classify_status(target.url, status, location, latency)

    def _record(self, key: Hashable, target: Target, result: ProbeResult) -> None:
        self.probes_run += 1
        metrics.PROBES.labels(target.component, result.reason.value).inc()
        if result.latency_ms is not None and result.reason is not ProbeReason.TIMEOUT:
            metrics.PROBE_DURATION.labels(target.component, target.delivery).observe(
                result.latency_ms / 1000
            )
        now = time.monotonic()
        with self._lock:
            if self._targets.get(key) != target:
                return  # the target changed while this probe ran: its result is stale
            previous = self._results.get(key)
            self._results[key] = result
            changed = previous is None or previous.outcome() != result.outcome()
            stale = now - self._notified.get(key, 0.0) >= self.settings.refresh
            if changed or stale:
                self._notified[key] = now
        if changed or stale:
            if changed and previous is not None:
                log.info("%s: %s -> %s", target.url, previous.reason.value, result.reason.value)
            self._on_change(key)
