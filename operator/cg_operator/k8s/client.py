"""The API server connection and the few calls the operator makes. All API I/O lives here."""

from __future__ import annotations

import logging
import os
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import urllib3
from kubernetes import client, config
from kubernetes.client import rest
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from cg_operator import metrics
from cg_operator.api.constants import GROUP, VERSION
from cg_operator.k8s import writer

log = logging.getLogger(__name__)


def in_cluster() -> bool:
    """Whether the operator runs in a pod (the kubelet sets KUBERNETES_SERVICE_HOST)."""
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST"))


def request_labels(method: str, url: str, content_type: str | None) -> tuple[str, str]:
    """(verb, resource) of an API request, in the API server's own terms: get/list, apply
    (server-side apply)/patch, create, update, delete; the resource plural, with its
    subresource after a slash (componentinstallations/status)."""
    parts = [p for p in urlsplit(url).path.split("/") if p]
    # /api/v1/... or /apis/<group>/<version>/...
    rest = parts[2:] if parts[:1] == ["api"] else parts[3:]
    if len(rest) >= 2 and rest[0] == "namespaces" and len(rest) != 2:
        rest = rest[2:]
    resource = rest[0] if rest else ""
    named = len(rest) >= 2
    if len(rest) >= 3:
        resource = f"{resource}/{rest[2]}"
    method = method.upper()
    verb = {
        "GET": "get" if named else "list",
        "POST": "create",
        "PUT": "update",
        "DELETE": "delete",
    }.get(method, method.lower())
    if method == "PATCH":
        verb = "apply" if content_type == "application/apply-patch+yaml" else "patch"
    return verb, resource


class CountingRESTClient(rest.RESTClientObject):
    """The official client's HTTP layer, counting every request in cg_api_requests_total."""

    def request(
        self,
        method: str,
        url: str,
        headers: dict[str, str] | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        """Send the request and count it by verb, resource and status code."""
        verb, resource = request_labels(method, url, (headers or {}).get("Content-Type"))
        try:
            response = super().request(method, url, headers, *args, **kwargs)
        except ApiException as error:
            metrics.API_REQUESTS.labels(verb, resource, str(error.status)).inc()
            raise
        except Exception:
            metrics.API_REQUESTS.labels(verb, resource, "error").inc()
            raise
        metrics.API_REQUESTS.labels(verb, resource, str(response.status)).inc()
        return response


@cache
def api_client() -> client.ApiClient:
    """In-cluster credentials when running in a pod, else the kubeconfig (KUBECONFIG)."""
    try:
        config.load_incluster_config()
    except ConfigException:
        config.load_kube_config()
    api = client.ApiClient()
    # Audit logs and API priority-and-fairness debugging name the writer by its User-Agent.
    api.user_agent = writer.user_agent()
    api.rest_client.close()
    api.rest_client = CountingRESTClient(api.configuration)
    return api


def service_proxy_get(
    namespace: str, service: str, port: int, path: str, timeout: float
) -> tuple[int, str | None]:
    """GET a Service's path through the API server's service proxy: (status, Location).
    The API server's own answers (503 without endpoints) count as the answer; a timeout raises
    TimeoutError and a broken connection OSError."""
    core = client.CoreV1Api(api_client())
    try:
        response = core.connect_get_namespaced_service_proxy_with_path(
            f"{service}:{port}",
            namespace,
            path.lstrip("/"),
            _preload_content=False,
            _request_timeout=timeout,
        )
    except ApiException as error:
        location = (error.headers or {}).get("Location")
        return int(error.status or 0), location
    except urllib3.exceptions.TimeoutError as error:
        raise TimeoutError(str(error)) from error
    except urllib3.exceptions.HTTPError as error:
        raise OSError(str(error)) from error
    raw: Any = response  # urllib3's response (the client's stubs say str)
    try:
        return int(raw.status), raw.headers.get("Location")
    finally:
        raw.release_conn()


def patch_status(
    plural: str, name: str, patch: dict[str, Any], namespace: str | None = None
) -> dict[str, Any]:
    """Merge-patch the status subresource of one of our objects; the object as written."""
    objects = client.CustomObjectsApi(api_client())
    body = {"status": patch}
    answer: Any
    if namespace is None:
        answer = objects.patch_cluster_custom_object_status(GROUP, VERSION, plural, name, body)
    else:
        answer = objects.patch_namespaced_custom_object_status(
            GROUP, VERSION, namespace, plural, name, body
        )
    log.debug("patched status of %s/%s", plural, name)
    return answer if isinstance(answer, dict) else {}


def serves(group_version: str, plural: str) -> bool:
    """Whether the API server serves this resource (its CRD is installed): one discovery
    request for the group version. 404 means not installed; any other failure raises."""
    group, version = group_version.split("/")
    try:
        found = client.CustomObjectsApi(api_client()).get_api_resources(group, version)
    except ApiException as error:
        if error.status == 404:
            return False
        raise
    return any(r.name == plural for r in (found.resources or []))
