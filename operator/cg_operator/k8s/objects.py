"""Generic object I/O: server-side apply, get, list, delete, label, events. All through one
field manager; 404s on delete are success (the object is already gone)."""

from __future__ import annotations

import hashlib
import logging
import secrets
import threading
from datetime import UTC, datetime
from functools import cache
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.resource import Resource

from cg_operator.api.constants import FIELD_MANAGER
from cg_operator.api.refs import Ref
from cg_operator.k8s import writer
from cg_operator.k8s.client import api_client

log = logging.getLogger(__name__)


# The dynamic client's discovery cache is not thread-safe: a lookup that misses rebuilds it,
# and a worker thread looking up another kind meanwhile read it half-built (KeyError:
# 'resources', a failed pass at the start of every cold run with several worker threads).
# Lookups are cached below, so only the first of each kind takes the lock.
_DISCOVERY = threading.Lock()


@cache
def dynamic() -> DynamicClient:
    """The discovery-backed dynamic client (discovery is cached for the process)."""
    return DynamicClient(api_client())


@cache
def resource(api_version: str, kind: str) -> Resource:
    """The API resource serving a kind."""
    with _DISCOVERY:
        found: Resource = dynamic().resources.get(api_version=api_version, kind=kind)
    return found


def apply(obj: dict[str, Any]) -> dict[str, Any]:
    """Server-side apply with the operator's field manager, taking over conflicting fields (with
    this process's labels: k8s/writer)."""
    obj = writer.labelled(obj)
    meta = obj["metadata"]
    result = resource(obj["apiVersion"], obj["kind"]).server_side_apply(
        body=obj,
        name=meta["name"],
        namespace=meta.get("namespace"),
        field_manager=FIELD_MANAGER,
        force_conflicts=True,
    )
    log.info("applied %s", Ref.of(obj))
    return dict(result.to_dict())


def create_if_absent(obj: dict[str, Any]) -> bool:
    """Create the object; False when one of that name already exists (HTTP 409). The API
    server decides, so of two callers racing for one name exactly one gets True."""
    obj = writer.labelled(obj)
    meta = obj["metadata"]
    try:
        resource(obj["apiVersion"], obj["kind"]).create(
            body=obj, namespace=meta.get("namespace"), field_manager=FIELD_MANAGER
        )
    except ApiException as error:
        if error.status == 409:
            return False
        raise
    log.info("created %s", Ref.of(obj))
    return True


def get(ref: Ref) -> dict[str, Any] | None:
    """The live object, or None when it does not exist (without managedFields: large, and
    never read)."""
    try:
        found = resource(ref.api_version, ref.kind).get(
            name=ref.name, namespace=ref.namespace or None
        )
    except ApiException as error:
        if error.status == 404:
            return None
        raise
    obj = dict(found.to_dict())
    obj["metadata"] = {k: v for k, v in obj["metadata"].items() if k != "managedFields"}
    return obj


def list_objects(
    api_version: str, kind: str, namespace: str, label_selector: str
) -> list[dict[str, Any]]:
    """Objects of a kind in a namespace matching a label selector."""
    found = resource(api_version, kind).get(namespace=namespace, label_selector=label_selector)
    return [dict(item.to_dict()) for item in found.items]


def delete(ref: Ref, preconditions: dict[str, str] | None = None) -> bool:
    """Delete in the background; True when something was deleted, False when already gone.
    `preconditions` (uid, resourceVersion) make the API server refuse (409) the delete when
    the object changed since it was read."""
    body: dict[str, Any] = {"propagationPolicy": "Background"}
    if preconditions:
        body["preconditions"] = preconditions
    try:
        resource(ref.api_version, ref.kind).delete(
            name=ref.name, namespace=ref.namespace or None, body=body
        )
    except ApiException as error:
        if error.status == 404:
            return False
        raise
    log.info("deleted %s", ref)
    return True


def merge_patch(ref: Ref, patch: dict[str, Any]) -> bool:
    """A JSON merge patch (labels, finalizers); False when the object is gone (404)."""
    try:
        resource(ref.api_version, ref.kind).patch(
            name=ref.name,
            namespace=ref.namespace or None,
            body=patch,
            content_type="application/merge-patch+json",
        )
    except ApiException as error:
        if error.status != 404:
            raise
        return False
    return True


def secret_data(namespace: str, name: str) -> dict[str, str] | None:
    """The data (base64 values) of a Secret, or None. Never logged."""
    found = read_secret(namespace, name)
    return found[0] if found is not None else None


def read_secret(namespace: str, name: str) -> tuple[dict[str, str], dict[str, str]] | None:
    """(data with base64 values, annotations) of a Secret, or None. Never logged."""
    try:
        found = client.CoreV1Api(api_client()).read_namespaced_secret(name, namespace)
    except ApiException as error:
        if error.status == 404:
            return None
        raise
    data = {str(k): str(v) for k, v in (found.data or {}).items()}
    annotations = found.metadata.annotations if found.metadata else None
    return data, dict(annotations or {})


def latest_job_pod(namespace: str, job: str) -> dict[str, Any] | None:
    """A Job's most recent pod as the API serves it (camelCase keys), or None."""
    core = client.CoreV1Api(api_client())
    pods = [
        (p.metadata.creation_timestamp or datetime.min.replace(tzinfo=UTC), p.metadata.name, p)
        for p in core.list_namespaced_pod(namespace, label_selector=f"job-name={job}").items
        if p.metadata is not None and p.metadata.name
    ]
    if not pods:
        return None
    *_key, latest = max(pods, key=lambda found: found[:2])
    return dict(api_client().sanitize_for_serialization(latest))


def pod_log_tail(namespace: str, pod: str, container: str | None, lines: int = 40) -> str:
    """The last lines of a pod's log, of `container` or of its only container ("" when it has
    not started or is gone). The caller masks secret values before the text goes anywhere."""
    core = client.CoreV1Api(api_client())
    try:
        return str(
            core.read_namespaced_pod_log(pod, namespace, container=container, tail_lines=lines)
            or ""
        )
    except ApiException as error:
        if error.status in (400, 404):  # not started yet, or gone
            return ""
        raise


def post_event(
    involved: dict[str, Any],
    *,
    reason: str,
    message: str,
    warning: bool = False,
    series: str | None = None,
) -> None:
    """A core/v1 Event on an object, for a domain action (installed, upgraded, ...). With
    `series`, repeats of the same occurrence (a field someone keeps changing) are one Event
    whose count and lastTimestamp go up, so a fight makes no stream of events."""
    meta = involved["metadata"]
    now = datetime.now(UTC)
    namespace = meta.get("namespace") or "default"
    # The object's uid too: one deleted and made again starts its own series.
    suffix = (
        hashlib.sha256(f"{meta.get('uid')}/{series}".encode()).hexdigest()[:16]
        if series
        else secrets.token_hex(8)
    )
    name = f"{meta['name']}.{suffix}"
    if series and _count_again(namespace, name, message, now):
        return
    event = client.CoreV1Event(
        metadata=client.V1ObjectMeta(name=name, namespace=namespace),
        involved_object=client.V1ObjectReference(
            api_version=involved["apiVersion"],
            kind=involved["kind"],
            name=meta["name"],
            namespace=meta.get("namespace"),
            uid=meta.get("uid"),
        ),
        reason=reason,
        message=message[:1024],
        type="Warning" if warning else "Normal",
        source=client.V1EventSource(component=FIELD_MANAGER),
        reporting_component=FIELD_MANAGER,
        reporting_instance=FIELD_MANAGER,
        first_timestamp=now,
        last_timestamp=now,
        count=1,
    )
    try:
        client.CoreV1Api(api_client()).create_namespaced_event(
            meta.get("namespace") or "default", event
        )
    except ApiException as error:  # an event is never worth failing a reconcile for
        log.warning("could not post event %s on %s: %s", reason, meta["name"], error.reason)


def _count_again(namespace: str, name: str, message: str, now: datetime) -> bool:
    """Count one more occurrence on an existing Event of a series; False when there is none."""
    core = client.CoreV1Api(api_client())
    try:
        existing = core.read_namespaced_event(name, namespace)
        core.patch_namespaced_event(
            name,
            namespace,
            {
                "count": (existing.count or 1) + 1,
                "lastTimestamp": now.isoformat(),
                "message": message[:1024],
            },
        )
    except ApiException as error:
        if error.status == 404:
            return False
        log.warning("could not count event %s: %s", name, error.reason)
    return True
