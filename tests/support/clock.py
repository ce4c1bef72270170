"""A clock a test moves by hand, for code that takes `clock=time.monotonic`."""

from __future__ import annotations


class Clock:
    """Returns `now`; a test advances it (`clock.now += 10`)."""

    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
