"""The App Store's calls to the API server, made with one person's credentials (the
kubeconfig's user for `kubectl cg`): reading the App Store's kinds, their server-printed
tables, and sending an action's patch. Kubernetes RBAC decides what each may do; nothing here
widens it."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable, Iterator
from typing import Any

from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException

from cg_operator.api.constants import GROUP, VERSION
from cg_operator.appstore.actions import Patch
from cg_operator.appstore.rows import objects_from_table

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
FIELD_MANAGER = "cg-appstore"  # the page's and kubectl cg's changes, one owner
IN_CLUSTER_CA = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
PATCH_TYPES = {
    "apply": "application/apply-patch+yaml",
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


def cluster_configuration(kubeconfig: str | None = None, context: str | None = None) -> Any:
    """Where the API server is and which CA it has, without anyone's credentials: the
    in-cluster ServiceAccount's or the kubeconfig's user are dropped, so a request carries only
    the person's own token and the page's ServiceAccount never widens what they may do."""
    configuration = client.Configuration()
    if kubeconfig is None and in_cluster():
        # Not load_incluster_config: it needs the ServiceAccount's token, which the page's pod
        # does not mount. The API server's address is in the environment, its CA in a file.
        host = os.environ["KUBERNETES_SERVICE_HOST"]
        port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
        configuration.host = (
            f"https://{host}:{port}" if ":" not in host else f"https://[{host}]:{port}"
        )
        configuration.ssl_ca_cert = os.environ.get("CG_APPSTORE_CA", IN_CLUSTER_CA)
    else:
        config.load_kube_config(
            config_file=kubeconfig, context=context, client_configuration=configuration
        )
    configuration.api_key = {}
    configuration.api_key_prefix = {}
    configuration.refresh_api_key_hook = None
    configuration.cert_file = configuration.key_file = None
    configuration.username = configuration.password = None
    return configuration


def in_cluster() -> bool:
    """Whether this runs in a pod (the kubelet sets KUBERNETES_SERVICE_HOST)."""
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST"))


class Store:
    """The App Store's kinds, read and changed as one person."""

    def __init__(self, api: Any) -> None:
        self.api = api
        self.custom = client.CustomObjectsApi(api)
        self.core = client.CoreV1Api(api)

    @classmethod
    def as_kubeconfig_user(cls, kubeconfig: str | None = None, context: str | None = None) -> Store:
        """As the kubeconfig's user (`kubectl cg`, the page under `make run`)."""
        return cls(config.new_client_from_config(config_file=kubeconfig, context=context))

    @classmethod
    def with_token(cls, cluster: Any, token: str) -> Store:
        """As the person whose bearer token an authenticating proxy forwarded."""
        configuration = copy.copy(cluster)
        configuration.api_key = {"authorization": token}
        configuration.api_key_prefix = {"authorization": "Bearer"}
        return cls(client.ApiClient(configuration))

    def close(self) -> None:
        self.api.close()

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

    def items(self, plural: str, namespace: str = "") -> list[dict[str, Any]]:
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
        return self._table(plural)

    def summaries(
        self, plural: str, namespace: str = "", field_selector: str = ""
    ) -> list[dict[str, Any]]:
        """Every object of the kind the person may list (optionally only those matching a
        field selector), each reduced to what its printer columns show (appstore/rows): the
        fleet views read thousands of installations, and the full objects cost the API server
        and this process several times more to send and parse."""
        query = [("includeObject", "None")]
        if field_selector:
            query.append(("fieldSelector", field_selector))
        return objects_from_table(plural, self._table(plural, namespace, query))

    def _table(
        self, plural: str, namespace: str = "", query: list[tuple[str, str]] | None = None
    ) -> dict[str, Any]:
        """A meta.k8s.io Table of the kind. Sent by hand: the generated client neither takes
        `includeObject` nor parses a Table."""
        where = f"/namespaces/{namespace}" if namespace else ""
        try:
            request = self.api.param_serialize(
                method="GET",
                resource_path=f"/apis/{GROUP}/{VERSION}{where}/{plural}",
                query_params=query or [],
                header_params={"Accept": TABLE},
                auth_settings=["BearerToken"],
            )
            response = self.api.call_api(*request)
            response.read()
            if not 200 <= response.status < 300:
                raise ApiException(http_resp=response)
        except ApiException as error:
            raise _translated(error) from None
        return _object(json.loads(response.data))

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
                    # An apply takes over fields another manager set to other values: the
                    # person asked for exactly this change.
                    force=True if patch.kind == "apply" else None,
                    _content_type=PATCH_TYPES[patch.kind],
                )
            )
        except ApiException as error:
            raise _translated(error) from None

    def change(self, plural: str, name: str, decide: Callable[[dict[str, Any]], Patch]) -> str:
        """Read a cluster-scoped object, decide its patch, send it; read again and decide
        again when it changed in between (409), at most three times. The patch's summary."""
        for _attempt in range(3):
            patch = decide(self.get(plural, name))
            if patch.kind == "none":
                return patch.summary
            try:
                self.patch(plural, name, patch)
            except ConflictError:
                continue
            return patch.summary
        raise ConflictError(f"{plural} {name} kept changing; try again")

    def quota(self, namespace: str) -> list[dict[str, Any]]:
        """The namespace's ResourceQuotas (hard and used), as plain data."""
        try:
            found = self.core.list_namespaced_resource_quota(namespace)
        except ApiException as error:
            raise _translated(error) from None
        return [self.api.sanitize_for_serialization(q) for q in found.items]

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
