"""Count the writes made during a window: from the API server's audit log, attributed to who
wrote them, or (on a cluster without one) from its request counters, for all clients at once."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from tests.support.cluster import REPO, Cluster

WRITE_VERBS = frozenset({"POST", "PUT", "PATCH", "DELETE", "APPLY", "DELETECOLLECTION"})
_SAMPLE = re.compile(r"^apiserver_request_total\{(?P<labels>[^}]*)\} (?P<value>[0-9.e+]+)$")
_LABEL = re.compile(r'(\w+)="([^"]*)"')

# What the operator writes. Everything else (leases, nodes, endpoints, events, the status of
# built-in workloads) is written by the control plane's own controllers.
OPERATOR_RESOURCES = frozenset(
    {
        "namespaces",
        "resourcequotas",
        "limitranges",
        "serviceaccounts",
        "configmaps",
        "secrets",
        "services",
        "deployments",
        "statefulsets",
        "poddisruptionbudgets",
        "networkpolicies",
        "persistentvolumeclaims",
        "jobs",
        "ingresses",
        "httproutes",
        "cgcomponents",
        "municipalitytenants",
        "componentinstallations",
        "componentrollouts",
    }
)
OWN_KINDS = frozenset(
    {"cgcomponents", "municipalitytenants", "componentinstallations", "componentrollouts"}
)
# The control plane's own clients, by the first word of their User-Agent. Everything else that
# writes (the operator, kopf inside it, a kubectl) counts.
CONTROL_PLANE_AGENTS = ("kube-controller-manager/", "kube-scheduler/", "kube-apiserver/", "kwok")
# The operator's two clients: its own (k8s/client.py) and kopf's.
OPERATOR_AGENTS = ("cg-operator/", "kopf/")
_AUDIT_VERBS = {
    "create": "POST",
    "update": "PUT",
    "patch": "PATCH",
    "delete": "DELETE",
    "deletecollection": "DELETECOLLECTION",
}


def write_counts(cluster: Cluster) -> Counter[tuple[str, str, str]]:
    """(verb, resource, subresource) -> write requests served so far, all clients together."""
    counts: Counter[tuple[str, str, str]] = Counter()
    for line in cluster.kubectl("get", "--raw", "/metrics").stdout.splitlines():
        match = _SAMPLE.match(line)
        if not match:
            continue
        labels = dict(_LABEL.findall(match["labels"]))
        if labels.get("verb") in WRITE_VERBS:
            key = (labels["verb"], labels.get("resource", ""), labels.get("subresource", ""))
            counts[key] += int(float(match["value"]))
    return counts


def operator_writes(
    before: Counter[tuple[str, str, str]], after: Counter[tuple[str, str, str]]
) -> dict[tuple[str, str, str], int]:
    """Writes in the window to what the operator manages (a built-in's status is the
    control plane's, our kinds' status is ours)."""
    return {
        key: after[key] - before.get(key, 0)
        for key in after
        if after[key] > before.get(key, 0)
        and key[1] in OPERATOR_RESOURCES
        and (key[2] != "status" or key[1] in OWN_KINDS)
    }


def audit_writes(
    lines: Iterable[str], clients: tuple[str, ...] | None = None
) -> Counter[tuple[str, str, str]]:
    """(verb, resource, subresource) -> writes in these audit log lines by anyone but the control
    plane (or only by the clients whose User-Agent starts with one of `clients`), keyed like the
    request counters (verb in the counters' spelling)."""
    counts: Counter[tuple[str, str, str]] = Counter()
    for line in lines:
        if not line.strip():
            continue
        event = json.loads(line)
        verb = _AUDIT_VERBS.get(event.get("verb", ""))
        if verb is None or event.get("stage") != "ResponseComplete":
            continue
        agent = str(event.get("userAgent", ""))
        if agent.startswith(CONTROL_PLANE_AGENTS) or (clients and not agent.startswith(clients)):
            continue
        ref = event.get("objectRef") or {}
        counts[(verb, ref.get("resource", ""), ref.get("subresource", ""))] += 1
    return counts


def audit_log(cluster: Cluster) -> Path | None:
    """The audit log hack/cluster-up.sh has the local API server write, if this is that cluster."""
    if not cluster.context.startswith("kwok-"):
        return None
    name = cluster.context.removeprefix("kwok-")
    path = REPO / ".local" / "kwok" / "clusters" / name / "logs" / "audit.log"
    return path if path.is_file() else None


class WriteWindow:
    """The operator's writes from now on. With the local cluster's audit log a write by the
    controller-manager (a namespace an earlier test deleted, the garbage collector) is not the
    operator's, and `clients` narrows the count to those User-Agents; without the log every
    client's writes count, which can only over-count."""

    def __init__(self, cluster: Cluster, clients: tuple[str, ...] | None = None) -> None:
        self._cluster = cluster
        self._clients = clients
        self._audit = audit_log(cluster)
        if self._audit is not None:
            self._offset = self._audit.stat().st_size
        else:
            self._before = write_counts(cluster)

    @property
    def attributed(self) -> bool:
        """True when writes are told apart by who made them."""
        return self._audit is not None

    def writes(self) -> dict[tuple[str, str, str], int]:
        """Writes since the window opened to what the operator manages."""
        if self._audit is None:
            return operator_writes(self._before, write_counts(self._cluster))
        with self._audit.open("rb") as log:
            log.seek(self._offset)
            # A line still being written is left out; the last complete line ends in a newline.
            text = log.read().decode()
        complete = text[: text.rfind("\n") + 1]
        return operator_writes(Counter(), audit_writes(complete.splitlines(), self._clients))
