"""Health probing at run time: the prober's settings, its start and stop with kopf, and the
one call a reconcile pass makes to register what to probe and get the Healthy verdict."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import kopf

from cg_operator.api.component import CGComponentSpec, OfferingType
from cg_operator.api.installation import ComponentInstallationSpec, ProbeResult
from cg_operator.handlers.queue import QUEUE
from cg_operator.health.prober import Prober, ProberSettings, Target
from cg_operator.k8s.client import in_cluster, service_proxy_get
from cg_operator.reconcile.delivery import delivery_for
from cg_operator.reconcile.delivery.base import HealthRequest
from cg_operator.reconcile.health import (
    ContainerProbeMode,
    HealthTarget,
    PublicEndpoint,
    Verdict,
    judge,
    probe_record,
    public_probe_url,
    resolve_mode,
    with_public,
)


@dataclass
class HealthConfig:
    """Health settings from the command line."""

    prober: ProberSettings = field(default_factory=ProberSettings)
    container_mode: ContainerProbeMode = ContainerProbeMode.AUTO
    cluster_domain: str = "cluster.local"

    @property
    def enabled(self) -> bool:
        """Probes run unless the interval is 0."""
        return self.prober.interval > 0


CONFIG = HealthConfig()
_prober: Prober | None = None


@dataclass(frozen=True)
class ProxyFetch:
    """GET a Service's path through the API server (comparable, so an unchanged target is
    recognised as unchanged)."""

    namespace: str
    service: str
    port: int
    path: str

    def __call__(self, timeout: float) -> tuple[int, str | None]:
        """Run the request (blocking; the prober calls it on its executor)."""
        return service_proxy_get(self.namespace, self.service, self.port, self.path, timeout)


def _recorded(recorded: dict[str, Any] | None, url: str, version: str) -> ProbeResult | None:
    """The probe recorded in status for the same URL and version: after a restart it stands
    until the first new probe ends, so a restart does not flip Healthy to Unknown and back."""
    if not recorded or recorded.get("url") != url or recorded.get("version", "") != version:
        return None
    try:
        return ProbeResult.model_validate(recorded)
    except ValueError:
        return None


def configure(config: HealthConfig) -> None:
    """Set the health settings (before the operator starts)."""
    global CONFIG  # noqa: PLW0603 - one configuration per process
    CONFIG = config


def prober() -> Prober:
    """The process's prober, started on first use."""
    global _prober  # noqa: PLW0603 - one prober per process
    if _prober is None:
        _prober = Prober(CONFIG.prober, on_change=lambda key: QUEUE.again(_owner(key)))
        _prober.start()
    return _prober


@kopf.on.startup()
def start_probing(**_: Any) -> None:
    """kopf start-up hook: start the prober thread."""
    if CONFIG.enabled:
        prober()


@kopf.on.cleanup()
def stop_probing(**_: Any) -> None:
    """kopf clean-up hook: stop the prober thread."""
    global _prober  # noqa: PLW0603 - one prober per process
    if _prober is not None:
        _prober.stop()
        _prober = None


def forget(key: Hashable) -> None:
    """Stop probing a key (an installation gone, or a public URL no longer probed)."""
    if _prober is not None:
        _prober.set_target(key, None)


def forget_installation(key: Hashable) -> None:
    """The installation is gone: stop probing it and its public URL."""
    forget(key)
    forget(_public_key(key))


def assess(
    key: Hashable,
    *,
    live: dict[str, Any],
    spec: ComponentInstallationSpec,
    component: CGComponentSpec,
    delivery: OfferingType,
    endpoint: str,
    workloads: tuple[bool, str],
    now: datetime,
    public: PublicEndpoint | None = None,
    changing: bool = False,
) -> tuple[Verdict, dict[str, Any] | None]:
    """Register what to probe for an installation (and its public URL, once its route is
    taken up); return its Healthy verdict and what status.lastProbe should hold. `changing`:
    a change moves through its workloads (new settings, a rotated credential), which makes
    their unavailability progress as a new version's does."""
    namespace = live["metadata"]["namespace"]
    status = live.get("status") or {}
    recorded = status.get("lastProbe")
    progressing = changing or status.get("observedVersion") != spec.version
    skipped, result, record = "probes are disabled (--probe-interval 0)", None, recorded
    target = None
    if CONFIG.enabled:
        target, skipped = delivery_for(delivery).health_target(
            HealthRequest(
                endpoint=endpoint,
                offering=component.offering(spec.offering),
                component=component,
                version=spec.version,
                service=spec.component,
                namespace=namespace,
                mode=resolve_mode(CONFIG.container_mode, in_cluster()),
                cluster_domain=CONFIG.cluster_domain,
            )
        )
        record = None
    if target is None:
        forget(key)
    else:
        result = _watch(key, target, spec, delivery) or _recorded(
            recorded, target.url, spec.version
        )
        record = probe_record(recorded, result, now, timedelta(seconds=CONFIG.prober.refresh))
    verdict = judge(
        has_workloads=delivery_for(delivery).has_workloads,
        workloads_available=workloads[0],
        workloads_message=workloads[1],
        probe=result,
        skipped=skipped,
        progressing=progressing,
    )
    return _with_public(key, verdict, public, spec, component), record


def _with_public(
    key: Hashable,
    verdict: Verdict,
    public: PublicEndpoint | None,
    spec: ComponentInstallationSpec,
    component: CGComponentSpec,
) -> Verdict:
    """Probe the public URL of an exposed installation whose route a controller took up, and
    fold the result into its verdict. The guard lets the probe reach the installation's own
    host only, and no private address unless --probe-allow-cidr opens it."""
    public_key = _public_key(key)
    if public is None or not public.admitted or not CONFIG.enabled:
        forget(public_key)
        return verdict
    target = Target(
        url=public_probe_url(public, component, spec.version),
        component=spec.component,
        delivery="Public",
        allowed_hosts=(public.host,),
        version=spec.version,
    )
    prober().set_target(public_key, target)
    result = prober().result(public_key)
    return with_public(verdict, result, public.url)


PUBLIC = "public"


def _public_key(key: Hashable) -> tuple[Hashable, ...]:
    """The prober key of an installation's public URL."""
    return (*key, PUBLIC) if isinstance(key, tuple) else (key, PUBLIC)


def _owner(key: Hashable) -> Hashable:
    """The installation a prober key belongs to."""
    if isinstance(key, tuple) and key and key[-1] == PUBLIC:
        return key[:-1] if len(key) > 2 else key[0]
    return key


def _watch(
    key: Hashable, target: HealthTarget, spec: ComponentInstallationSpec, delivery: OfferingType
) -> ProbeResult | None:
    """Register the target with the prober; its latest result (for this version), if any."""
    fetch = (
        ProxyFetch(target.namespace, target.service, target.port, target.path)
        if target.service
        else None
    )
    probe = Target(
        url=target.url,
        component=spec.component,
        delivery=delivery.value,
        allowed_hosts=target.allowed_hosts,
        fetch=fetch,
        version=spec.version,
    )
    prober().set_target(key, probe)
    result = prober().result(key)
    return result.model_copy(update={"version": spec.version}) if result else None
