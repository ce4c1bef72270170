"""Leader election on a coordination.k8s.io Lease, through the official client's
kubernetes.leaderelection: its Lease lock writes with the object's resourceVersion (two candidates
cannot both take the lease), and it follows client-go's rule that a lease has expired once its
record has not changed for a lease duration as this candidate observed it, so the candidates'
clocks need not agree.

What the library lacks, and this module adds: a renewal loop that can be stopped, that survives
connection errors (the library lets them escape its thread, which would end renewal silently while
the work goes on), and giving the lease up on a clean shutdown, so that a standby takes over
within one retry period instead of one lease duration (client-go's ReleaseOnCancel)."""

from __future__ import annotations

import datetime
import logging
import threading
import time
from collections.abc import Callable

from kubernetes import client
from kubernetes.leaderelection.electionconfig import Config
from kubernetes.leaderelection.leaderelection import LeaderElection
from kubernetes.leaderelection.leaderelectionrecord import LeaderElectionRecord
from kubernetes.leaderelection.resourcelock.leaselock import LeaseLock

from cg_operator.k8s.client import api_client
from cg_operator.k8s.election import ElectionTiming

log = logging.getLogger(__name__)
# The library logs every attempt at INFO (every retry period while standing by); this module
# logs what changes.
logging.getLogger("leaderelection").setLevel(logging.WARNING)


class Lease:
    """One candidate for the lease `namespace/name`, known to the others as `identity`."""

    def __init__(
        self,
        namespace: str,
        name: str,
        identity: str,
        timing: ElectionTiming,
        api: client.ApiClient | None = None,
    ):
        self.namespace, self.name, self.identity, self.timing = namespace, name, identity, timing
        self._lock = LeaseLock(name, namespace, identity)
        # The operator's client (counted in cg_api_requests_total), not the library's default.
        self._lock.api_instance = client.CoordinationV1Api(api or api_client())
        self._election = LeaderElection(
            Config(
                self._lock,
                timing.lease_duration,
                timing.renew_deadline,
                timing.retry_period,
                onstarted_leading=lambda: None,
                onstopped_leading=None,
            )
        )
        self._stopping = threading.Event()
        self._renewer: threading.Thread | None = None

    def _try(self) -> bool:
        """One attempt to take or renew the lease; a failure of any kind is a failed attempt."""
        try:
            return bool(self._election.try_acquire_or_renew())
        except Exception as error:
            log.debug("lease %s/%s: attempt failed: %s", self.namespace, self.name, error)
            return False

    def holder(self) -> str | None:
        """Who holds the lease as last read (None when nobody does)."""
        record = self._election.observed_record
        return record.holder_identity if record is not None else None

    def acquire(self, stop: threading.Event) -> bool:
        """Wait until this candidate holds the lease (True), or until `stop` is set (False)."""
        reported: str | None = None
        while not self._try():
            holder = self.holder()
            if holder != reported:
                log.info(
                    "standing by: lease %s/%s is held by %s", self.namespace, self.name, holder
                )
                reported = holder
            if stop.wait(self.timing.retry_period):
                return False
        log.info("acquired lease %s/%s as %s", self.namespace, self.name, self.identity)
        return True

    def keep(self, on_lost: Callable[[], None]) -> None:
        """Renew the lease every retry period in a daemon thread; call `on_lost` when it could
        not be renewed for a renew deadline (the caller must stop working at once)."""

        def renew() -> None:
            while not self._stopping.wait(self.timing.retry_period):
                deadline = time.monotonic() + self.timing.renew_deadline
                while not self._try():
                    if self._stopping.is_set():
                        return
                    if time.monotonic() >= deadline:
                        log.error(
                            "lost lease %s/%s: not renewed for %d s",
                            self.namespace,
                            self.name,
                            self.timing.renew_deadline,
                        )
                        on_lost()
                        return
                    self._stopping.wait(self.timing.retry_period / 2)

        self._renewer = threading.Thread(target=renew, name="lease renewal", daemon=True)
        self._renewer.start()

    def release(self) -> None:
        """Stop renewing and, if the lease is still this candidate's, give it up now."""
        self._stopping.set()
        if self._renewer is not None:
            self._renewer.join(timeout=self.timing.renew_deadline)
        try:
            found, record = self._lock.get(self.name, self.namespace)
            if not found or record.holder_identity != self.identity:
                return
            now = str(datetime.datetime.fromtimestamp(time.time()))
            # No holder, and a one-second duration: the next candidate takes it at its next try.
            released = LeaderElectionRecord("", "1", now, now)
            if self._lock.update(self.name, self.namespace, released):
                log.info("released lease %s/%s", self.namespace, self.name)
        except Exception as error:
            log.warning("could not release lease %s/%s: %s", self.namespace, self.name, error)
