"""The platform's exposure settings at run time: what the operator was started with, and
whether the cluster serves the route kind it was told to use. The answer to that is looked up
at most once a minute (the Gateway API may be installed while the operator runs)."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

from cg_operator.k8s.client import serves
from cg_operator.reconcile.exposure import GATEWAY_API, ExposureMode, ExposureSettings

# How long the answer "is the Gateway API installed" is trusted.
DISCOVERY_TTL_SECONDS = 60.0

_settings = ExposureSettings()
_lock = threading.Lock()
_known: tuple[float, bool] | None = None


def configure(settings: ExposureSettings) -> None:
    """Set the exposure settings (at start-up, from the command line)."""
    global _settings, _known
    with _lock:
        _settings, _known = settings, None


def current() -> ExposureSettings:
    """The settings, with `routes_available` as the cluster last answered."""
    if _settings.mode is not ExposureMode.HTTPROUTE:
        return _settings
    return replace(_settings, routes_available=_gateway_api_served())


def _gateway_api_served() -> bool:
    global _known  # noqa: PLW0603 - a cache of one answer
    with _lock:
        if _known is not None and time.monotonic() - _known[0] < DISCOVERY_TTL_SECONDS:
            return _known[1]
    answer = serves(GATEWAY_API, "httproutes")
    with _lock:
        _known = (time.monotonic(), answer)
    return answer
