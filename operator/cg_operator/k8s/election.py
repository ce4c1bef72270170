"""How long a leader's Lease lasts: plain data, so that the command line can offer and check the
durations without importing the API client."""

from __future__ import annotations

from dataclasses import dataclass

# The Lease's name when none is given (the chart passes `<fullname>-leader`).
DEFAULT_LEASE_NAME = "cg-operator-leader"


@dataclass(frozen=True)
class ElectionTiming:
    """client-go's three durations, in whole seconds as the official client takes them. A holder
    that has not renewed for `lease_duration` loses the lease to a standby; the holder gives up
    after failing to renew for `renew_deadline`, before anyone else may take it; every candidate
    tries again every `retry_period`.

    The defaults are shorter than client-go's 15/10/2: a standby takes over a killed leader
    within lease_duration + 2 x retry_period (14 s), and the operator's start-up and first
    passes take about 3 s more, inside the 20 s a platform may be without reconciliation. A
    leader that cannot reach the API server for 7 s restarts, which costs no more than that."""

    lease_duration: int = 10
    renew_deadline: int = 7
    retry_period: int = 2

    def problem(self) -> str | None:
        """Why these durations cannot work (the client's own rule), or None."""
        if self.lease_duration > self.renew_deadline > self.retry_period * 1.2:
            return None
        return (
            "the lease duration must exceed the renew deadline, and the renew deadline 1.2 x "
            f"the retry period; got {self.lease_duration}, {self.renew_deadline} and "
            f"{self.retry_period} s"
        )
