"""Every Prometheus metric the operator exports, in one registry, with bounded labels.

Controller metrics (reconcile passes, API requests, watch events, probes) are counted where the
thing happens. State metrics (installations ready and healthy, versions, tenants per ring,
rollout progress, expiry times) are computed at scrape time from the objects the operator has
seen, so they are right after a restart and never drift from the cluster. Labels are at most
tenant x component; versions appear only in `cg_installation_info`.
"""

from __future__ import annotations

import bisect
import itertools
import platform
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector

from cg_operator import __version__

# `_created` series double the output and no rule or panel uses them.
disable_created_metrics()  # type: ignore[no-untyped-call]
REGISTRY = CollectorRegistry(auto_describe=True)

RECONCILE_TOTAL = Counter(
    "cg_reconcile_total",
    "Reconcile passes, by kind.",
    ["kind"],
    registry=REGISTRY,
)
RECONCILE_ERRORS = Counter(
    "cg_reconcile_errors_total",
    "Reconcile passes that raised (each is retried with backoff), by kind.",
    ["kind"],
    registry=REGISTRY,
)
RECONCILE_DURATION = Histogram(
    "cg_reconcile_duration_seconds",
    "Time one reconcile pass takes, by kind.",
    ["kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)
STATUS_WRITES = Counter(
    "cg_status_writes_total",
    "Status writes of ComponentInstallations and MunicipalityTenants, by kind and what made "
    "each due: first (no status yet), Ready (its transition), a field a reader acts on "
    "(observedGeneration, observedVersion, namespace, shard), inventory (a child gone), "
    "warning (with a warning Event), or progress (held progress whose window ended).",
    ["kind", "cause"],
    registry=REGISTRY,
)
API_REQUESTS = Counter(
    "cg_api_requests_total",
    "Kubernetes API requests made by the reconcilers (kopf's watches not included), by verb, "
    "resource and HTTP status code.",
    ["verb", "resource", "code"],
    registry=REGISTRY,
)
WATCH_EVENTS = Counter(
    "cg_watch_events_total",
    "Watch events received (including the re-list kopf does when a watch restarts), by resource.",
    ["resource"],
    registry=REGISTRY,
)
WATCH_LAST_EVENT = Gauge(
    "cg_watch_last_event_timestamp_seconds",
    "Unix time of the last watch event per resource. Watches restart at least every 5 minutes "
    "and re-list, so an age much above that means a frozen watch.",
    ["resource"],
    registry=REGISTRY,
)
PROBE_DURATION = Histogram(
    "cg_probe_duration_seconds",
    "Latency of health probes, by component and delivery (Container or SaaS).",
    ["component", "delivery"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
PROBES = Counter(
    "cg_probes_total",
    "Health probes run, by component and result reason (ProbeSucceeded, Timeout, DNSFailure, ...).",
    ["component", "reason"],
    registry=REGISTRY,
)
LEADER = Gauge(
    "cg_leader",
    "1 while this replica holds the operator's Lease and reconciles, 0 while it stands by "
    "(only with leader election).",
    registry=REGISTRY,
)
GC_FROZEN = Gauge(
    "cg_gc_frozen_objects",
    "Objects in the collector's permanent generation, which collections do not walk: each full "
    "collection's survivors, all of them again when the freeze is renewed at an idle moment.",
    registry=REGISTRY,
)
BUILD_INFO = Gauge(
    "cg_build_info",
    "Always 1; the operator's version and runtime in labels.",
    ["version", "python_version", "kopf_version"],
    registry=REGISTRY,
)


@dataclass(frozen=True)
class FleetSnapshot:
    """The objects the state metrics are computed from: the latest bodies the watches gave."""

    installations: Iterable[Mapping[str, Any]] = ()
    tenants: Iterable[Mapping[str, Any]] = ()
    rollouts: Iterable[Mapping[str, Any]] = ()
    queue_depth: int = 0
    # Children held in the operator's indexes, per resource (its memory, in objects).
    cached_objects: Mapping[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def _condition(obj: Mapping[str, Any], type_: str) -> str | None:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == type_:
            return str(condition.get("status"))
    return None


def _timestamp(value: Any) -> float | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def state_families(snapshot: FleetSnapshot) -> Iterator[GaugeMetricFamily]:
    """The state metrics for one snapshot (pure: the collector calls it at every scrape)."""
    ready = GaugeMetricFamily(
        "cg_installation_ready",
        "1 when the installation is Ready (its workloads available or its SaaS binding in place).",
        labels=["tenant", "component"],
    )
    healthy = GaugeMetricFamily(
        "cg_installation_healthy",
        "1 when the installation's last health probe passed, 0 when it failed; absent while "
        "unknown.",
        labels=["tenant", "component"],
    )
    info = GaugeMetricFamily(
        "cg_installation_info",
        "Always 1; the version an installation actually runs, its delivery and offering.",
        labels=["tenant", "component", "version", "delivery", "offering"],
    )
    certificate = GaugeMetricFamily(
        "cg_probe_certificate_expiry_timestamp_seconds",
        "Unix time at which the TLS certificate of a SaaS endpoint expires (seen by the last "
        "probe).",
        labels=["tenant", "component"],
    )
    credentials = GaugeMetricFamily(
        "cg_binding_credentials_expiry_timestamp_seconds",
        "Unix time at which a SaaS binding's credentials expire, where the credentials Secret "
        "says so.",
        labels=["tenant", "component"],
    )
    for obj in snapshot.installations:
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        labels = [str(spec.get("tenant", "")), str(spec.get("component", ""))]
        ready.add_metric(labels, 1.0 if _condition(obj, "Ready") == "True" else 0.0)
        is_healthy = _condition(obj, "Healthy")
        if is_healthy in ("True", "False"):
            healthy.add_metric(labels, 1.0 if is_healthy == "True" else 0.0)
        info.add_metric(
            [
                *labels,
                str(status.get("observedVersion") or ""),
                str(status.get("delivery") or ""),
                str(spec.get("offering") or ""),
            ],
            1.0,
        )
        expires = _timestamp((status.get("lastProbe") or {}).get("certificateExpires"))
        if expires is not None:
            certificate.add_metric(labels, expires)
        credentials_expire = _timestamp(status.get("credentialsExpire"))
        if credentials_expire is not None:
            credentials.add_metric(labels, credentials_expire)
    yield from (ready, healthy, info, certificate, credentials)
    yield from _tenant_families(snapshot.tenants)
    yield from _rollout_families(snapshot.rollouts)
    depth = GaugeMetricFamily(
        "cg_workqueue_depth", "Objects waiting for a reconcile pass.", value=snapshot.queue_depth
    )
    yield depth
    cached = GaugeMetricFamily(
        "cg_operator_cached_objects",
        "Children held in the operator's indexes (only those in tenant namespaces).",
        labels=["resource"],
    )
    for resource, count in sorted(snapshot.cached_objects.items()):
        cached.add_metric([resource], count)
    yield cached


def _tenant_families(tenants: Iterable[Mapping[str, Any]]) -> Iterator[GaugeMetricFamily]:
    per_ring: dict[str, int] = {}
    ready = GaugeMetricFamily(
        "cg_tenant_ready",
        "1 when the tenant is Ready (every subscription Ready).",
        labels=["tenant"],
    )
    for tenant in tenants:
        ring = str((tenant.get("spec") or {}).get("ring") or "")
        per_ring[ring] = per_ring.get(ring, 0) + 1
        ready.add_metric(
            [str(tenant["metadata"]["name"])], 1.0 if _condition(tenant, "Ready") == "True" else 0.0
        )
    rings = GaugeMetricFamily("cg_tenants", "Municipality tenants, by ring.", labels=["ring"])
    for ring, count in sorted(per_ring.items()):
        rings.add_metric([ring], float(count))
    yield from (rings, ready)


ROLLOUT_CONDITIONS = ("Progressing", "Paused", "Complete", "Failed")


def _rollout_families(rollouts: Iterable[Mapping[str, Any]]) -> Iterator[GaugeMetricFamily]:
    progress = GaugeMetricFamily(
        "cg_rollout_wave_progress_ratio",
        "Share of a wave's tenants that run the target version Ready and Healthy (0 to 1).",
        labels=["rollout", "component", "wave"],
    )
    conditions = GaugeMetricFamily(
        "cg_rollout_condition",
        "1 when the rollout condition is True: Progressing, Paused, Complete or Failed.",
        labels=["rollout", "component", "condition"],
    )
    for rollout in rollouts:
        name = str(rollout["metadata"]["name"])
        component = str((rollout.get("spec") or {}).get("component") or "")
        for wave in (rollout.get("status") or {}).get("waves") or []:
            tenants = int(wave.get("tenants") or 0)
            ratio = (int(wave.get("ready") or 0) / tenants) if tenants else 0.0
            progress.add_metric([name, component, str(wave.get("name", ""))], ratio)
        for type_ in ROLLOUT_CONDITIONS:
            is_true = 1.0 if _condition(rollout, type_) == "True" else 0.0
            conditions.add_metric([name, component, type_], is_true)
    yield from (progress, conditions)


class StateCollector(Collector):
    """Computes the state metrics from a snapshot at every scrape."""

    def __init__(self, snapshot: Callable[[], FleetSnapshot]) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """Called by prometheus-client at every scrape."""
        yield from state_families(self._snapshot())

    def describe(self) -> Iterator[GaugeMetricFamily]:
        """Nothing to describe up front: the families are computed at scrape time."""
        return iter(())


class GcPauses(Collector):
    """`cg_gc_pause_seconds`: a histogram that takes no lock, so the collector's own callback
    can record into it. prometheus-client's Histogram takes a plain Lock in observe(); a
    collection can start inside any allocation, also one made while that lock is held in the
    same thread (a scrape), and the callback would then wait on it for ever. Collections never
    overlap, so the callback is the only writer; a scrape reads counts that may lag by one."""

    BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
    GENERATIONS = (0, 1, 2)

    def __init__(self) -> None:
        # per generation: the count in each bucket (the last for +Inf), and the sum
        self._counts = {g: [0] * (len(self.BUCKETS) + 1) for g in self.GENERATIONS}
        self._sums = dict.fromkeys(self.GENERATIONS, 0.0)

    def observe(self, generation: int, seconds: float) -> None:
        """One collection of `generation` took `seconds`."""
        counts = self._counts.get(generation)
        if counts is None:
            return
        counts[bisect.bisect_left(self.BUCKETS, seconds)] += 1
        self._sums[generation] += seconds

    def count(self, generation: int) -> int:
        """Collections of `generation` so far."""
        return sum(self._counts.get(generation, ()))

    def collect(self) -> Iterator[HistogramMetricFamily]:
        """Called by prometheus-client at every scrape."""
        family = HistogramMetricFamily(
            "cg_gc_pause_seconds",
            "Time each garbage collection held the interpreter, and so every reconcile pass, by "
            "generation; generation 2 walks every object not frozen (handlers/garbage_collection).",
            labels=["generation"],
        )
        for generation in self.GENERATIONS:
            counts = list(self._counts[generation])
            cumulative = list(itertools.accumulate(counts))
            bounds = [*(str(b) for b in self.BUCKETS), "+Inf"]
            family.add_metric(
                [str(generation)],
                list(zip(bounds, cumulative, strict=True)),
                self._sums[generation],
            )
        yield family

    def describe(self) -> Iterator[HistogramMetricFamily]:
        """Nothing to describe up front: the family is computed at scrape time."""
        return iter(())


GC_PAUSE = GcPauses()
REGISTRY.register(GC_PAUSE)

_state_lock = threading.Lock()
_state_collector: StateCollector | None = None


def register_state(snapshot: Callable[[], FleetSnapshot]) -> None:
    """Register (or replace) the state collector with the function that snapshots the fleet."""
    global _state_collector  # noqa: PLW0603 - one collector per process registry
    with _state_lock:
        if _state_collector is not None:
            REGISTRY.unregister(_state_collector)
        _state_collector = StateCollector(snapshot)
        REGISTRY.register(_state_collector)


def set_build_info(kopf_version: str) -> None:
    """Record the build info series (called once at start-up)."""
    BUILD_INFO.labels(__version__, platform.python_version(), kopf_version).set(1)


def serve(address: str) -> None:
    """Serve /metrics on `host:port` in a daemon thread."""
    host, _, port = address.rpartition(":")
    start_http_server(int(port), addr=host or "0.0.0.0", registry=REGISTRY)  # noqa: S104
