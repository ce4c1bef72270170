"""The API server connection and the few calls the operator makes. All API I/O lives here."""

from __future__ import annotations

import logging
from functools import cache
from typing import Any

from kubernetes import client, config
from kubernetes.config.config_exception import ConfigException

from cg_operator.api.constants import GROUP, VERSION

log = logging.getLogger(__name__)


@cache
def api_client() -> client.ApiClient:
    """In-cluster credentials when running in a pod, else the kubeconfig (KUBECONFIG)."""
    try:
        config.load_incluster_config()
    except ConfigException:
        config.load_kube_config()
    return client.ApiClient()


def patch_status(
    plural: str, name: str, patch: dict[str, Any], namespace: str | None = None
) -> None:
    """Merge-patch the status subresource of one of our objects."""
    objects = client.CustomObjectsApi(api_client())
    body = {"status": patch}
    if namespace is None:
        objects.patch_cluster_custom_object_status(GROUP, VERSION, plural, name, body)
    else:
        objects.patch_namespaced_custom_object_status(GROUP, VERSION, namespace, plural, name, body)
    log.debug("patched status of %s/%s", plural, name)
