"""Read the API server's own request counters, to count writes during a window."""

from __future__ import annotations

import re
from collections import Counter

from tests.support.cluster import Cluster

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
        "cgcomponents",
        "municipalitytenants",
        "componentinstallations",
        "componentrollouts",
    }
)
OWN_KINDS = frozenset(
    {"cgcomponents", "municipalitytenants", "componentinstallations", "componentrollouts"}
)


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
