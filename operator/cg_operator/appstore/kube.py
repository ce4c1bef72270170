"""The App Store's calls to the API server, made with one person's credentials (the
kubeconfig's user for `kubectl cg`): reading the App Store's kinds, their server-printed
tables, and sending an action's patch. Kubernetes RBAC decides what each may do; nothing here
widens it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

from cg_operator.api.constants import GROUP, VERSION
from cg_operator.appstore.actions import Patch

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
FIELD_MANAGER = "kubectl-cg"
PATCH_TYPES = {
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
}


class ForbiddenError(Exception):
    """The person may not do this; the message names the verb and resource."""


class NotFoundError(Exception):
    """The object named does not exist (or the person cannot see that it does)."""


class ConflictError(Exception):
    """The object changed between reading it and patching it."""


def _translated(error: ApiException) -> Exception:
    """The API server's refusal as what the person should read: its own message."""
    try:
        message = json.loads(error.body or "{}").get("message") or error.reason
    except ValueError:
        message = error.reason
    kinds: dict[int, type[Exception]] = {
        403: ForbiddenError,
        404: NotFoundError,
        409: ConflictError,
    }
    found = kinds.get(error.status or 0)
    return found(message) if found else error


def _object(found: object) -> dict[str, Any]:
    """The client's answer, a JSON object (its methods are typed `object`)."""
    if not isinstance(found, dict):
        raise TypeError(f"expected a JSON object, got {type(found).__name__}")
    return found


class Store:
    """The App Store's kinds, read and changed as one person."""

    def __init__(self, kubeconfig: str | None = None, context: str | None = None) -> None:
        self.api = config.new_client_from_config(config_file=kubeconfig, context=context)
        self.custom = client.CustomObjectsApi(self.api)

    def get(self, plural: str, name: str, namespace: str = "") -> dict[str, Any]:
        try:
            if namespace:
                return _object(
                    self.custom.get_namespaced_custom_object(
                        GROUP, VERSION, namespace, plural, name
                    )
                )
            return _object(self.custom.get_cluster_custom_object(GROUP, VERSION, plural, name))
        except ApiException as error:
            raise _translated(error) from None

    def list(self, plural: str, namespace: str = "") -> list[dict[str, Any]]:
        """Every object of the kind the person may list: in one namespace, or everywhere."""
        try:
            if namespace:
                found = self.custom.list_namespaced_custom_object(GROUP, VERSION, namespace, plural)
            else:
                found = self.custom.list_cluster_custom_object(GROUP, VERSION, plural)
        except ApiException as error:
            raise _translated(error) from None
        return list(_object(found)["items"])

    def table(self, plural: str) -> dict[str, Any]:
        """The objects as the API server prints them, with the kind's printer columns."""
        try:
            response = self.custom.list_cluster_custom_object(
                GROUP, VERSION, plural, _headers={"Accept": TABLE}, _preload_content=False
            )
        except ApiException as error:
            raise _translated(error) from None
        # Not preloaded: the raw HTTP response, whose body the client would not parse as a Table.
        return _object(json.loads(getattr(response, "data", b"{}")))

    def patch(self, plural: str, name: str, patch: Patch) -> dict[str, Any]:
        """Send an action's patch to a cluster-scoped object (a tenant, a rollout)."""
        try:
            return _object(
                self.custom.patch_cluster_custom_object(
                    GROUP,
                    VERSION,
                    plural,
                    name,
                    patch.body,
                    field_manager=FIELD_MANAGER,
                    _content_type=PATCH_TYPES[patch.kind],
                )
            )
        except ApiException as error:
            raise _translated(error) from None

    def watch(self, plural: str, name: str) -> Iterator[dict[str, Any]]:
        """The named cluster-scoped object each time it changes (first as it is now)."""
        stream = watch.Watch().stream(
            self.custom.list_cluster_custom_object,
            GROUP,
            VERSION,
            plural,
            field_selector=f"metadata.name={name}",
        )
        try:
            for event in stream:
                if event["type"] in ("ADDED", "MODIFIED"):
                    yield _object(event["object"])
                elif event["type"] == "DELETED":
                    raise NotFoundError(f"{plural} {name!r} was deleted")
        except ApiException as error:
            raise _translated(error) from None
