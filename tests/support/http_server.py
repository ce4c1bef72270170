"""A small HTTP(S) server for probe tests (on 127.0.0.1 unless told otherwise): each path
answers as told; it counts requests and the peak of requests in flight."""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Behaviour:
    """How a path answers: status, delay before answering, redirect target."""

    status: int = 200
    delay: float = 0.0
    location: str | None = None


@dataclass
class LocalServer:
    """A server on its own thread and loop, so sync and async tests can both use it."""

    tls: ssl.SSLContext | None = None
    host: str = "127.0.0.1"
    port: int = 0
    """The port to bind (0: any free one); the bound port afterwards."""
    paths: dict[str, Behaviour] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)
    in_flight: int = 0
    peak_in_flight: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @property
    def base(self) -> str:
        """http(s)://<host>:<port>"""
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    def set(self, path: str, behaviour: Behaviour) -> None:
        """Make `path` answer as `behaviour` says from now on."""
        with self._lock:
            self.paths[path] = behaviour

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        with self._lock:
            behaviour = self.paths.get(request.path, Behaviour(status=404))
            self.hits[request.path] = self.hits.get(request.path, 0) + 1
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            if behaviour.delay:
                await asyncio.sleep(behaviour.delay)
            headers = {"Location": behaviour.location} if behaviour.location else {}
            return web.Response(status=behaviour.status, text="ok", headers=headers)
        finally:
            with self._lock:
                self.in_flight -= 1

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("GET", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=self.tls)
        await site.start()
        server = site._server  # the bound socket's port
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]

    def start(self) -> LocalServer:
        """Start serving; returns self."""
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def stop(self) -> None:
        """Stop serving (connections are refused afterwards); stopping twice is harmless."""
        if self._runner is None:
            return
        runner, self._runner = self._runner, None
        asyncio.run_coroutine_threadsafe(runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
