"""ComponentInstallation handlers: containers or a SaaS binding, wired to dependencies.

One pass: read what is observed, plan (pure), apply only what differs, prune what is no longer
wanted, and write status once if it changed. Triggered by the installation's own events, by its
children's, and by its dependencies' and the catalogue's changes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets
import threading
from collections.abc import Hashable, Iterable, Mapping
from typing import Any

from cg_operator import metrics
from cg_operator.api.base import Condition
from cg_operator.api.component import CGComponentSpec
from cg_operator.api.constants import (
    ANNOTATION_ROTATE_SECRETS,
    ANNOTATION_ROTATED_FOR,
    FINALIZER,
    GROUP,
    LABEL_INSTALLATION,
    LABEL_RETAINED,
    LABEL_TENANT,
    VERSION,
)
from cg_operator.api.installation import ComponentInstallationSpec, InventoryEntry
from cg_operator.api.kinds import INSTALLATION
from cg_operator.api.refs import Ref
from cg_operator.api.tenant import BackingServiceMode, DeletionPolicy
from cg_operator.handlers import exposure as platform_exposure
from cg_operator.handlers import probing
from cg_operator.handlers.catalogue import CatalogueIndex, catalogue_of
from cg_operator.handlers.observed import Observed
from cg_operator.handlers.own_status import OwnStatus
from cg_operator.handlers.queue import QUEUE
from cg_operator.handlers.status_pacing import StatusPacing
from cg_operator.handlers.sync import apply_all, prune, report_repairs
from cg_operator.handlers.validate import now
from cg_operator.k8s import objects
from cg_operator.k8s.client import patch_status
from cg_operator.reconcile.backing import FLAVOURS, BackingImages
from cg_operator.reconcile.children import binding_secret_name
from cg_operator.reconcile.configuration import (
    CONFIGURATION_FAILED,
    configured,
    credential_secret_name,
    failed_step,
    log_tail,
    workload_credential_secrets,
)
from cg_operator.reconcile.diff import plain_data
from cg_operator.reconcile.exposure import ROUTE_KINDS, route_admitted
from cg_operator.reconcile.health import PublicEndpoint, credentials_expiry
from cg_operator.reconcile.installation import (
    InstallationPlan,
    plan_installation,
    tenancy_errors,
)
from cg_operator.reconcile.installation_summary import (
    Configured,
    deployable,
    readiness,
    status_write_cause,
    summarize,
    transition_events,
    workloads_changing,
    workloads_state,
)
from cg_operator.reconcile.pod import generate, generated_secret_name
from cg_operator.reconcile.retention import Disposal, dispose
from cg_operator.reconcile.status import (
    WRITE_CAUSE_PROGRESS,
    existing_conditions,
    inventory_entries,
    status_patch,
    validation_conditions,
)
from cg_operator.reconcile.validation import FieldError, parse_spec

log = logging.getLogger(__name__)
PLURAL = INSTALLATION.plural
# How soon an installation waiting for a tenant's Secret looks again (those are not watched).
MISSING_RECHECK_SECONDS = 15.0
# How soon an installation refused for its namespace looks again.
TENANCY_RECHECK_SECONDS = 60.0
# A failed configuration Job's masked log tail, read once per Job (its name changes with its
# inputs; a retry of the same inputs shows the first failure's lines until it succeeds).
_log_tails: dict[tuple[str, str, str], str] = {}
_log_tails_lock = threading.Lock()
# The platform's embedded images (--backing-image), set once before the operator starts.
BACKING_IMAGES = BackingImages()


def configure(backing_images: BackingImages) -> None:
    """The platform's embedded images (before the operator starts)."""
    global BACKING_IMAGES  # noqa: PLW0603 - one setting per process, read by every pass
    BACKING_IMAGES = backing_images


# Each installation's last status write, until its echo reaches kopf's index: a pass that starts
# before then compares with it, so it neither writes the same status again nor posts a
# transition's event a second time (handlers/own_status).
OWN_STATUS = OwnStatus()
STATUS_PACING = StatusPacing()


def enqueue_installation(
    namespace: str, name: str, kwargs: Mapping[str, Any], delay: float = 0.0
) -> None:
    """Ask for a reconcile pass of one installation (coalesced with pending ones; with a delay,
    at most that much later, together with every ask in between)."""
    QUEUE.add((PLURAL, namespace, name), _run, kwargs, delay=delay)


def _run(key: Hashable, kwargs: Mapping[str, Any]) -> None:
    assert isinstance(key, tuple)
    reconcile_installation(str(key[1]), str(key[2]), kwargs)


def reconcile_installation(namespace: str, name: str, kwargs: Mapping[str, Any]) -> None:
    """One reconcile pass of one installation (the queue runs one pass per object at a time)."""
    observed = Observed(kwargs)
    live = observed.get(Ref(f"{GROUP}/{VERSION}", "ComponentInstallation", namespace, name))
    if live is None:
        probing.forget_installation((PLURAL, namespace, name))
        QUEUE.forget((PLURAL, namespace, name))
        OWN_STATUS.forget((namespace, name))
        STATUS_PACING.forget((namespace, name))
        return
    if live["metadata"].get("deletionTimestamp"):
        _finalize(live, observed)
        return
    if _ensure_finalizer(live):
        _reconcile(OWN_STATUS.fresh((namespace, name), live), observed, kwargs)


def _ensure_finalizer(live: dict[str, Any]) -> bool:
    """Our finalizer on the installation; False when it is gone (deleted before its first
    pass got here, the index still having it): nothing of it may be made now."""
    finalizers = list(live["metadata"].get("finalizers") or [])
    if FINALIZER in finalizers:
        return True
    return objects.merge_patch(Ref.of(live), {"metadata": {"finalizers": [*finalizers, FINALIZER]}})


def _reconcile(live: dict[str, Any], observed: Observed, kwargs: Mapping[str, Any]) -> None:
    catalogue_index: CatalogueIndex = kwargs["catalogue_index"]
    namespace, generation = live["metadata"]["namespace"], live["metadata"].get("generation")
    spec, errors = parse_spec(ComponentInstallationSpec, live.get("spec") or {})
    catalogue = catalogue_of(catalogue_index)
    if spec is not None and not errors:
        errors = _tenancy(live, spec.tenant, observed, kwargs)
    if spec is not None and not errors and spec.component not in catalogue:
        errors = [FieldError("spec.component", f"no CGComponent named {spec.component!r}")]
    if spec is None or errors:
        _write_status(
            live,
            validation_conditions(
                existing_conditions(live.get("status")),
                errors,
                generation=generation,
                now=now(),
                ready_when_valid=False,
            ),
            {},
        )
        return
    component = catalogue[spec.component]
    credentials = _credentials(namespace, spec)
    plan = plan_installation(
        live,
        spec,
        component,
        observed.installations(namespace),
        passwords=_passwords(live, spec, component, observed),
        credentials=credentials[0] if credentials else None,
        generated=_generated(live, spec, component, observed),
        secret_keys=_secret_keys(namespace, spec),
        rotation=(live["metadata"].get("annotations") or {}).get(ANNOTATION_ROTATE_SECRETS),
        cluster_domain=probing.CONFIG.cluster_domain,
        exposure=platform_exposure.current(),
        backing_images=BACKING_IMAGES,
        credential_versions=_credential_versions(namespace, spec, component, observed),
    )
    if plan.errors:
        _write_status(
            live,
            validation_conditions(
                existing_conditions(live.get("status")),
                plan.errors,
                generation=generation,
                now=now(),
                ready_when_valid=False,
            ),
            {"delivery": plan.delivery.value},
        )
        return
    if plan.missing or plan.unrouted:
        # A Secret the tenant names, or the route kind, does not exist yet: nothing watches
        # either, so look again.
        key = (PLURAL, namespace, live["metadata"]["name"])
        QUEUE.add(key, _run, kwargs, delay=MISSING_RECHECK_SECONDS)
    planned = [*plan.data, *plan.children]
    desired = deployable(planned, plan, observed.get)
    if desired is None:
        # Frozen: what exists stays as it is (and in the inventory) until the cause is gone.
        existing = [o for o in planned if observed.get(Ref.of(o)) is not None]
        _report(
            live,
            spec=spec,
            credentials_expire=None,
            component=component,
            plan=plan,
            desired=existing,
            observed=observed,
            wrote=False,
            kwargs=kwargs,
        )
        return
    desired += _configuration_job(plan, desired, observed)
    binding = Ref("v1", "Secret", namespace, plan.binding_secret)
    had_binding = observed.get(binding) is not None
    new_servers = [
        o for o in desired if o["kind"] == "StatefulSet" and observed.get(Ref.of(o)) is None
    ]
    written = apply_all(desired, observed, on_repair=report_repairs(live))
    if any(ref.kind in ROUTE_KINDS for ref in written):
        # kopf watches a kind whose CRD appeared while it runs (the Gateway API installed
        # later) only once its observer notices: the route's echo may never come, so look
        # again rather than wait for it.
        key = (PLURAL, namespace, live["metadata"]["name"])
        QUEUE.add(key, _run, kwargs, delay=MISSING_RECHECK_SECONDS)
    _reclaim(live, plan, observed, bool(new_servers))
    if had_binding and binding in written:
        objects.post_event(
            live,
            reason="BindingRotated",
            message=f"connection details in Secret {plan.binding_secret} changed",
        )
    unwanted = inventory(live) - {Ref.of(o) for o in desired}
    _apply_disposal(dispose(unwanted, spec.deletion_policy))
    _report(
        live,
        spec=spec,
        credentials_expire=credentials_expiry(credentials[1] if credentials else {}),
        component=component,
        plan=plan,
        desired=desired,
        observed=observed,
        wrote=bool(written),
        kwargs=kwargs,
    )


def _credential_versions(
    namespace: str, spec: ComponentInstallationSpec, component: CGComponentSpec, observed: Observed
) -> dict[str, str | None]:
    """Each credential Secret the version's configuration or its workloads' env reads -> its
    uid, or None while the tenant has not made it; each binding the configuration reads -> a
    digest of its data."""
    version = component.version(spec.version)
    config = version.container.configuration if version and version.container else None
    out: dict[str, str | None] = {}
    names = (
        {credential_secret_name(c.client, c.server) for c in config.credentials}
        if config
        else set()
    )
    names |= workload_credential_secrets(spec.component, component)
    for name in sorted(names):
        live = observed.get(Ref("v1", "Secret", namespace, name))
        out[name] = live["metadata"].get("uid") if live else None
    for binding in config.bindings if config else []:
        name = binding_secret_name(binding.component)
        live = observed.get(Ref("v1", "Secret", namespace, name))
        data = json.dumps((live or {}).get("data") or {}, sort_keys=True)
        out[name] = hashlib.sha256(data.encode()).hexdigest()[:16] if live else None
    return out


def _configuration_job(
    plan: InstallationPlan, desired: list[dict[str, Any]], observed: Observed
) -> list[dict[str, Any]]:
    """The configuration Job, once the workloads it configures are available (or when it
    exists already: a Job is never taken away while they roll)."""
    job = plan.configuration.job if plan.configuration else None
    if job is None:
        return []
    if observed.get(Ref.of(job)) is not None or workloads_state(desired, observed.get)[0]:
        return [job]
    return []


def _configured(
    live: dict[str, Any], plan: InstallationPlan, observed: Observed
) -> Configured | None:
    """The Configured verdict; a failed Job's message ends with its log's last lines, every
    secret value the installation's Secrets and credentials hold masked."""
    if plan.configuration is None:
        return None
    job = plan.configuration.job
    found = observed.get(Ref.of(job)) if job else None
    verdict = Configured(*configured(found, plan.configuration.waiting))
    if verdict.reason != CONFIGURATION_FAILED or job is None:
        return verdict
    assert found is not None  # a verdict of failure comes from a live Job
    namespace = live["metadata"]["namespace"]
    name = job["metadata"]["name"]
    key = (namespace, name, str(found["metadata"].get("uid")))
    with _log_tails_lock:
        tail = _log_tails.get(key)
    if tail is None:
        masked = _secret_values(namespace, live, job, observed)
        pod = objects.latest_job_pod(namespace, name)
        text = (
            objects.pod_log_tail(namespace, pod["metadata"]["name"], failed_step(pod))
            if pod
            else ""
        )
        tail = log_tail(text, masked)
        with _log_tails_lock:
            _log_tails[key] = tail
    if not tail:
        return verdict
    return verdict._replace(message=f"{verdict.message}; last lines of its log:\n{tail}")


def _secret_values(
    namespace: str, live: dict[str, Any], job: dict[str, Any], observed: Observed
) -> list[str]:
    """Every value of the Secrets this installation made and of those its Job reads."""
    secrets_ = [
        o
        for o in observed.owned_by_installation(namespace, live["metadata"]["name"])
        if o["kind"] == "Secret"
    ]
    read = {
        e["valueFrom"]["secretKeyRef"]["name"]
        for c in job["spec"]["template"]["spec"]["containers"]
        for e in c.get("env") or []
        if "secretKeyRef" in (e.get("valueFrom") or {})
    }
    secrets_ += [
        o for o in observed.in_namespace("v1", "Secret", namespace) if o["metadata"]["name"] in read
    ]
    values = []
    for secret in secrets_:
        for value in (secret.get("data") or {}).values():
            try:
                values.append(base64.b64decode(str(value)).decode())
            except (ValueError, UnicodeDecodeError):
                continue
    return values


def _tenancy(
    live: dict[str, Any], tenant: str, observed: Observed, kwargs: Mapping[str, Any]
) -> list[FieldError]:
    """Refuse an installation outside its tenant's namespace. The indexes decide when they
    agree; a refusal is confirmed on a fresh read of the namespace (a new tenant's namespace may
    not have reached the watch yet) and looked at again later, since nothing else would wake
    it."""
    namespace = live["metadata"]["namespace"]
    exists = tenant in kwargs["tenant_index"]
    if exists and namespace in observed.namespaces_of(tenant):
        return []
    # The tenant is in the index before any of its installations exist (its own pass makes
    # them); the namespace, made in that same pass, may not have reached its watch yet.
    live_namespace = objects.get(Ref("v1", "Namespace", "", namespace)) or {"metadata": {}}
    errors = tenancy_errors(
        tenant,
        namespace,
        tenant_exists=exists,
        namespace_tenant=(live_namespace["metadata"].get("labels") or {}).get(LABEL_TENANT),
    )
    if errors:
        key = (PLURAL, namespace, live["metadata"]["name"])
        QUEUE.add(key, _run, kwargs, delay=TENANCY_RECHECK_SECONDS)
    return errors


def _reclaim(
    live: dict[str, Any], plan: InstallationPlan, observed: Observed, new_servers: bool
) -> None:
    """Data kept from an earlier delivery is in use again: it is no longer 'retained'."""
    namespace, name = live["metadata"]["namespace"], live["metadata"]["name"]
    unmark = {"metadata": {"labels": {LABEL_RETAINED: None}}}
    for obj in plan.data:
        stored = observed.get(Ref.of(obj))
        if stored and LABEL_RETAINED in (stored["metadata"].get("labels") or {}):
            objects.merge_patch(Ref.of(obj), unmark)
    if new_servers:
        selector = f"{LABEL_INSTALLATION}={name},{LABEL_RETAINED}"
        for claim in objects.list_objects("v1", "PersistentVolumeClaim", namespace, selector):
            objects.merge_patch(Ref.of(claim), unmark)


def _passwords(
    live: dict[str, Any],
    spec: ComponentInstallationSpec,
    component: CGComponentSpec,
    observed: Observed,
) -> dict[str, str]:
    """Passwords of the embedded services this version uses: the stored one, or a new one the
    first time. A password is never replaced: when the watch has not delivered the Secret yet,
    it is read from the API server before a new one is made."""
    out = {}
    namespace = live["metadata"]["namespace"]
    version = component.version(spec.version)
    services = version.container.backing_services if version and version.container else []
    for service in services:
        key = service.type.value.lower()
        chosen = getattr(spec.backing_services, key, None) if spec.backing_services else None
        external = chosen is not None and chosen.mode is BackingServiceMode.EXTERNAL
        if external or not FLAVOURS[service.type].needs_password:
            continue
        secret = f"{spec.component}-{key}"
        stored = observed.get(Ref("v1", "Secret", namespace, secret))
        data = plain_data(stored) or objects.secret_data(namespace, secret) or {}
        encoded = data.get("password")
        out[secret] = base64.b64decode(encoded).decode() if encoded else secrets.token_urlsafe(24)
    return out


def _generated(
    live: dict[str, Any],
    spec: ComponentInstallationSpec,
    component: CGComponentSpec,
    observed: Observed,
) -> dict[str, str]:
    """The generated settings of this version: the stored values, and a fresh one for each
    setting not stored yet. Stored values are never replaced, except all at once when the
    installation's rotate annotation asks for it (reported in an event). Never logged."""
    version = component.version(spec.version)
    wanted = version.container.generated_secrets if version and version.container else []
    if not wanted:
        return {}
    namespace = live["metadata"]["namespace"]
    name = generated_secret_name(spec.component)
    stored = observed.get(Ref("v1", "Secret", namespace, name))
    if stored is not None and plain_data(stored) is not None:
        data, annotations = plain_data(stored) or {}, stored["metadata"].get("annotations") or {}
    else:
        data, annotations = objects.read_secret(namespace, name) or ({}, {})
    request = (live["metadata"].get("annotations") or {}).get(ANNOTATION_ROTATE_SECRETS)
    if request and request != annotations.get(ANNOTATION_ROTATED_FOR) and stored is not None:
        # The watch may not have delivered this rotation's own write yet: ask the API server
        # before rotating, so that one request never rotates twice.
        data, annotations = objects.read_secret(namespace, name) or ({}, {})
    values = {k: base64.b64decode(v).decode() for k, v in data.items()}
    if request and request != annotations.get(ANNOTATION_ROTATED_FOR) and data:
        values = {}
        objects.post_event(
            live,
            reason="SecretsRotated",
            message=f"generated settings in Secret {name} replaced, as "
            f"{ANNOTATION_ROTATE_SECRETS}={request} asked",
        )
    return {s.name: values.get(s.name) or generate(s) for s in wanted}


def _secret_keys(
    namespace: str, spec: ComponentInstallationSpec
) -> dict[str, frozenset[str] | None]:
    """The keys (never the values) of each Secret the subscription names: its secretValues'
    and its SaaS credentialsSecretRef."""
    out: dict[str, frozenset[str] | None] = {}
    names = [v.secret_key_ref.name for v in spec.secret_values]
    if spec.credentials_secret_ref is not None:
        names.append(spec.credentials_secret_ref.name)
    for name in names:
        if name not in out:
            found = objects.read_secret(namespace, name)
            out[name] = frozenset(found[0]) if found is not None else None
    return out


def _credentials(
    namespace: str, spec: ComponentInstallationSpec
) -> tuple[dict[str, str], dict[str, str]] | None:
    """The SaaS credentials Secret's (data, annotations), or None."""
    if spec.credentials_secret_ref is None:
        return None
    return objects.read_secret(namespace, spec.credentials_secret_ref.name)


def inventory(live: Mapping[str, Any]) -> set[Ref]:
    """What this installation applied and has not disposed of: the inventory of its held
    status write (handlers/status_pacing) when one is held, else the stored one."""
    namespace, name = live["metadata"]["namespace"], live["metadata"]["name"]
    held = STATUS_PACING.held_inventory((namespace, name))
    entries = inventory_entries(live.get("status")) if held is None else held
    return {Ref(api_version, kind, namespace, child) for api_version, kind, child in entries}


def _apply_disposal(disposal: Disposal) -> None:
    """Delete what goes; label what is kept as retained."""
    for ref in disposal.retain:
        objects.merge_patch(ref, {"metadata": {"labels": {LABEL_RETAINED: "true"}}})
    prune(disposal.delete)


def _report(
    live: dict[str, Any],
    *,
    spec: ComponentInstallationSpec,
    credentials_expire: str | None,
    component: CGComponentSpec,
    plan: InstallationPlan,
    desired: list[dict[str, Any]],
    observed: Observed,
    wrote: bool,
    kwargs: Mapping[str, Any],
) -> None:
    """Conditions, observed version, endpoint, health and inventory; written only when they
    changed, and a change that is progress only once STATUS_PACING has held it for its window
    (the pass is asked for again then)."""
    generation = live["metadata"].get("generation")
    at = now()
    status = live.get("status") or {}
    workloads = workloads_state(desired, observed.get)
    verdict, last_probe = probing.assess(
        (PLURAL, live["metadata"]["namespace"], live["metadata"]["name"]),
        live=live,
        spec=spec,
        component=component,
        delivery=plan.delivery,
        endpoint=plan.endpoint,
        workloads=workloads,
        now=at,
        public=_public(plan, spec, desired, observed),
        changing=workloads_changing(desired, observed.get),
    )
    configured_verdict = _configured(live, plan, observed)
    ready = readiness(plan, wrote=wrote, workloads=workloads, configured=configured_verdict)
    conditions = summarize(
        existing_conditions(status),
        plan=plan,
        ready=ready,
        health=verdict,
        generation=generation,
        now=at,
        configured=configured_verdict,
    )
    observed_version = spec.version if ready.ready else status.get("observedVersion")
    extra = {
        "delivery": plan.delivery.value,
        "endpoint": plan.endpoint,
        "bindingSecretName": plan.binding_secret,
        "inventory": _inventory_wire(
            (o["apiVersion"], o["kind"], o["metadata"]["name"]) for o in desired
        ),
        "lastProbe": last_probe,
        "credentialsExpire": credentials_expire,
        "url": plan.url or None,
    }
    if observed_version:
        extra["observedVersion"] = observed_version
    events = transition_events(
        status, conditions, component=spec.component, version=observed_version, plan=plan
    )
    patch = status_patch(status, conditions, generation, extra)
    meta = live["metadata"]
    cause = status_write_cause(status, patch, events) if patch is not None else None
    wait = STATUS_PACING.postpone(
        (meta["namespace"], meta["name"]), patch, may_wait=patch is not None and cause is None
    )
    if wait > 0:
        QUEUE.add((PLURAL, meta["namespace"], meta["name"]), _run, kwargs, delay=wait)
        return
    for event in events:
        objects.post_event(
            live,
            reason=event.reason,
            message=event.message,
            warning=event.warning,
            series=event.key,
        )
    if patch is not None:
        _send_status(live, patch)
        metrics.STATUS_WRITES.labels(INSTALLATION.kind, cause or WRITE_CAUSE_PROGRESS).inc()


def _public(
    plan: InstallationPlan,
    spec: ComponentInstallationSpec,
    desired: list[dict[str, Any]],
    observed: Observed,
) -> PublicEndpoint | None:
    """The public address of a routed installation, and whether its route is taken up."""
    route = next((o for o in desired if o["kind"] in ROUTE_KINDS), None)
    if route is None or not plan.url or not spec.host:
        return None
    return PublicEndpoint(plan.url, spec.host, route_admitted(observed.get(Ref.of(route))))


def _write_status(live: dict[str, Any], conditions: list[Condition], extra: dict[str, Any]) -> None:
    """A status that says why nothing was applied (the spec or the plan is refused). A pass
    before it may have held a status listing children its stored inventory lacks: the write
    ends that hold, so it carries that inventory, or pruning would forget those children."""
    meta = live["metadata"]
    held = STATUS_PACING.held_inventory((meta["namespace"], meta["name"]))
    if held is not None and "inventory" not in extra:
        extra = {**extra, "inventory": _inventory_wire(held)}
    patch = status_patch(live.get("status"), conditions, meta.get("generation"), extra)
    if patch is not None:
        _send_status(live, patch)


def _inventory_wire(entries: Iterable[tuple[str, str, str]]) -> list[dict[str, Any]]:
    """Status.inventory from (apiVersion, kind, name) entries, in a stable order."""
    return [
        InventoryEntry(api_version=api_version, kind=kind, name=name).wire()
        for api_version, kind, name in sorted(set(entries))
    ]


def _send_status(live: dict[str, Any], patch: dict[str, Any]) -> None:
    meta = live["metadata"]
    answer = patch_status(PLURAL, meta["name"], patch, meta["namespace"])
    OWN_STATUS.wrote((meta["namespace"], meta["name"]), meta.get("resourceVersion"), answer)
    STATUS_PACING.settled((meta["namespace"], meta["name"]))


def _finalize(live: dict[str, Any], observed: Observed) -> None:
    """Removal: data stays (labelled retained) unless deletionPolicy is Delete; then owned
    children go with the installation through garbage collection."""
    namespace, name = live["metadata"]["namespace"], live["metadata"]["name"]
    policy = (live.get("spec") or {}).get("deletionPolicy", DeletionPolicy.RETAIN.value)
    data = [
        Ref.of(o)
        for o in observed.owned_by_installation(namespace, name)
        if o["kind"] == "Secret" and not o["metadata"].get("ownerReferences")
    ]
    claims = [
        Ref.of(o)
        for o in objects.list_objects(
            "v1",
            "PersistentVolumeClaim",
            namespace,
            f"appstore.commonground.nl/installation={name}",
        )
    ]
    disposal = dispose([*data, *claims], policy, known_data=[*data, *claims])
    for ref in disposal.retain:
        objects.merge_patch(ref, {"metadata": {"labels": {LABEL_RETAINED: "true"}}})
    for ref in disposal.delete:
        objects.delete(ref)
    probing.forget_installation((PLURAL, namespace, name))
    finalizers = [f for f in live["metadata"].get("finalizers") or [] if f != FINALIZER]
    objects.merge_patch(Ref.of(live), {"metadata": {"finalizers": finalizers or None}})
