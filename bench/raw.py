"""The benchmark's baseline: a raw applier that writes exactly the objects the operator would.

It calls the operator's own pure planners (`plan_tenant`, `plan_installation`) on the tenants
and catalogue read from the API server, so the manifests are byte-identical, and writes them
with the operator's own `k8s.objects.apply` (the kubernetes client, server-side apply, field
manager cg-operator, force) on 4 threads, as the identity in KUBECONFIG (the harness gives it the
chart's ServiceAccount token). It keeps no state, reads nothing back but the tenants, the
catalogue and the uids its applies return, writes no status, finalizers or events, and waits
for nothing: it is the floor an operator's writes and time are compared with. It writes what the
operator's passes write besides the planners' children: the tenant's credential Secrets (one
per wired pair, fresh values) and each configured component's configuration Job, planned with
every installation's endpoint (known from its plan) as the operator's status would give it.

Difference from the operator: the operator deploys a component's workloads only once its
dependencies are Ready. The raw applier cannot know that; it applies each tenant's
installations in dependency order (a dependency's binding Secret exists before the Deployment
that reads it), one tenant per thread at a time.

Usage (the harness runs it): KUBECONFIG=... python bench/raw.py --out stats.json
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fleet import FLEET_LABEL

from cg_operator import metrics
from cg_operator.api.component import CGComponentSpec
from cg_operator.api.installation import ComponentInstallationSpec
from cg_operator.api.tenant import MunicipalityTenantSpec
from cg_operator.k8s import objects
from cg_operator.reconcile.configuration import (
    credential_pairs,
    credential_secret_name,
    new_credential,
)
from cg_operator.reconcile.installation import plan_installation
from cg_operator.reconcile.tenant import plan_tenant
from cg_operator.reconcile.validation import Catalogue

Apply = Callable[[dict[str, Any]], dict[str, Any]]
THREADS = 4


def parse_catalogue(components: Sequence[Mapping[str, Any]]) -> Catalogue:
    """name -> parsed spec, from CGComponent objects."""
    return {
        c["metadata"]["name"]: CGComponentSpec.model_validate(dict(c["spec"])) for c in components
    }


def order(names: Sequence[str], catalogue: Catalogue) -> list[str]:
    """Subscribed names with each requirement before the components that need it."""
    wanted, done, out = set(names), set(), []

    def visit(name: str) -> None:
        if name in done:
            return
        done.add(name)
        for requirement in catalogue[name].requires:
            if requirement.component in wanted:
                visit(requirement.component)
        out.append(name)

    for name in names:
        visit(name)
    return out


def installation_objects(
    cgi: Mapping[str, Any],
    catalogue: Catalogue,
    installations: Mapping[str, Mapping[str, Any]],
    credential_versions: Mapping[str, str | None],
) -> tuple[list[dict[str, Any]], str]:
    """What the operator's installation pass applies for one installation (its data, its
    children, its configuration Job), with no passwords (backing services are external) and no
    SaaS credentials; and its endpoint."""
    spec = ComponentInstallationSpec.model_validate(dict(cgi["spec"]))
    plan = plan_installation(
        cgi,
        spec,
        catalogue[spec.component],
        installations,
        passwords={},
        credentials=None,
        credential_versions=credential_versions,
    )
    job = [plan.configuration.job] if plan.configuration and plan.configuration.job else []
    return [*plan.data, *plan.children, *job], plan.endpoint


def apply_tenant(
    tenant: Mapping[str, Any],
    catalogue: Catalogue,
    apply: Apply,
    new_secret: Callable[[], str] = new_credential,
) -> int:
    """Apply one tenant's namespace, children, installations and their children, in dependency
    order; the number of objects applied. `new_secret` makes each credential's value."""
    spec = MunicipalityTenantSpec.model_validate(dict(tenant["spec"]))
    subscribed = {s.name: catalogue[s.name] for s in spec.components if s.name in catalogue}
    credentials = {
        credential_secret_name(client, server): new_secret()
        for client, server in credential_pairs(subscribed)
    }
    plan = plan_tenant(tenant, spec, catalogue, rollout_versions={}, credentials=credentials)
    apply(plan.namespace_object)
    versions: dict[str, str | None] = {}
    for child in plan.children:
        written = apply(child)
        if child["kind"] == "Secret" and child["metadata"]["name"] in credentials:
            versions[child["metadata"]["name"]] = written["metadata"]["uid"]
    count = 1 + len(plan.children)
    by_name = {cgi["metadata"]["name"]: cgi for cgi in plan.installations}
    names = order([s.name for s in spec.components], catalogue)
    live: dict[str, dict[str, Any]] = {}
    for name in names:
        live[name] = dict(apply(by_name[name]))
        count += 1
    # A configuration may name any subscribed component's endpoint (a part for a client that
    # comes later in the order): every endpoint first, as each installation's status holds it.
    for name in names:
        _, endpoint = installation_objects(live[name], catalogue, live, versions)
        live[name]["status"] = {"endpoint": endpoint}
    for name in names:
        for obj in installation_objects(live[name], catalogue, live, versions)[0]:
            apply(obj)
            count += 1
    return count


def main(argv: Sequence[str] | None = None) -> int:
    """Apply every fleet tenant's objects and write counts and timings as JSON."""
    parser = argparse.ArgumentParser(description="apply the fleet's objects without an operator")
    parser.add_argument("--out", type=Path, required=True, help="where to write the JSON stats")
    parser.add_argument("--threads", type=int, default=THREADS)
    parser.add_argument("--selector", default=f"{FLEET_LABEL}=true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    started = time.monotonic()
    catalogue = parse_catalogue(
        objects.list_objects("appstore.commonground.nl/v1alpha1", "CGComponent", "", "")
    )
    tenants = objects.list_objects(
        "appstore.commonground.nl/v1alpha1", "MunicipalityTenant", "", args.selector
    )
    with ThreadPoolExecutor(max_workers=args.threads) as pool:
        counts = list(pool.map(lambda t: apply_tenant(t, catalogue, objects.apply), tenants))
    requests: dict[str, float] = {}
    for family in metrics.API_REQUESTS.collect():
        for sample in family.samples:
            if sample.name.endswith("_total"):
                key = f"{sample.labels['verb']} {sample.labels['resource']}"
                requests[key] = requests.get(key, 0) + sample.value
    args.out.write_text(
        json.dumps(
            {
                "tenants": len(tenants),
                "objects": sum(counts),
                "seconds": time.monotonic() - started,
                "requests": requests,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
