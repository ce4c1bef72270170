"""The benchmark's fleet: Dutch municipalities as MunicipalityTenants with a realistic,
deterministic mix of subscriptions, and the catalogue variant the throughput runs use.

Pure apart from reading the catalogue and the municipality list; `python bench/fleet.py` prints
a fleet as YAML (for a look, or `kubectl apply -f -`).

- Every municipality subscribes to 8-15 components. The ZGW core (Open Notificaties, Open Zaak,
  Objecttypen, Objecten) is in every one; the rest is drawn by popularity, each with the
  components it `requires` (optional requirements are left to chance).
- Container offerings, except SaaS offerings that need no credentials (auth None), chosen now
  and then.
- Rings: ~10% koploper, ~20% vroege-volger, the rest volger.
- Throughput runs (`external=True`) bind every backing service to a Secret the harness creates
  (`mode: External`), and use `bench_catalogue`: web replicas 0 and no worker Deployments, so
  that no pods, StatefulSets or PVCs are made and the run measures the operator, not KWOK's
  pod simulation (~20 pods/s) or the 400 pre-made volumes.
"""

from __future__ import annotations

import argparse
import copy
import csv
import random
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cg_operator.api.tenant import default_namespace

REPO = Path(__file__).resolve().parents[1]
CATALOGUE_DIR = REPO / "examples" / "catalog"
MUNICIPALITIES_CSV = Path(__file__).resolve().parent / "data" / "municipalities.csv"
API_VERSION = "appstore.commonground.nl/v1alpha1"
DEFAULT_SEED = 342
# The label the harness puts on the fleet's tenants and namespaces, to find and remove them.
FLEET_LABEL = "bench.commonground.nl/fleet"
# One Secret per tenant namespace holds the connection keys of every external backing service.
BACKING_SECRET = "bench-backing-services"  # noqa: S105 - a Secret's name
CORE = ("open-notificaties", "open-zaak", "objecttypen", "objecten")
# How likely a municipality is to use a component beyond the core (a guess from who uses what
# in the Common Ground community: forms and customer contact are common, case systems rarer).
POPULARITY: dict[str, float] = {
    "open-formulieren": 0.9,
    "open-klant": 0.75,
    "keycloak": 0.6,
    "referentielijsten": 0.5,
    "open-archiefbeheer": 0.45,
    "open-inwoner": 0.4,
    "kiss": 0.35,
    "signalen": 0.35,
    "open-product": 0.35,
    "open-organisatie": 0.3,
    "open-object": 0.25,
    "zac": 0.2,
    "open-beheer": 0.2,
    "gzac": 0.15,
}
SAAS_SHARE = 0.15
MIN_SUBSCRIPTIONS, MAX_SUBSCRIPTIONS = 8, 15
RINGS = (("koploper", 0.10), ("vroege-volger", 0.20), ("volger", 0.70))
QUOTA = {
    "requestsCpu": "12",
    "requestsMemory": "24Gi",
    "limitsCpu": "36",
    "limitsMemory": "48Gi",
    "requestsStorage": "120Gi",
    "persistentVolumeClaims": 24,
    "pods": 80,
    "defaultContainerCpu": "100m",
    "defaultContainerMemory": "256Mi",
}
NETWORK = {"ingressFromNamespaces": ["ingress-nginx"], "egressCIDRs": ["203.0.113.0/24"]}


@dataclass(frozen=True)
class Municipality:
    """One row of the municipality list."""

    code: str
    name: str
    province: str


def municipalities(path: Path = MUNICIPALITIES_CSV) -> list[Municipality]:
    """Every municipality with its CBS code (GM####), in file order."""
    with path.open(newline="", encoding="utf-8") as handle:
        return [Municipality(r["code"], r["name"], r["province"]) for r in csv.DictReader(handle)]


def load_catalogue(directory: Path = CATALOGUE_DIR) -> dict[str, dict[str, Any]]:
    """name -> CGComponent object, from the catalogue's YAML files."""
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(directory.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") == "CGComponent":
                out[doc["metadata"]["name"]] = doc
    return out


def bench_catalogue(
    catalogue: Mapping[str, dict[str, Any]], *, replicas: bool = False
) -> dict[str, dict[str, Any]]:
    """The throughput variant: every version with web replicas 0 and no workers (a worker always
    runs one replica, and the catalogue has no field to lower it). `replicas=True` returns the
    catalogue unchanged."""
    out = copy.deepcopy(dict(catalogue))
    if replicas:
        return out
    for component in out.values():
        # The fleet's tenants have no domain, so no component is exposed: a requirement that
        # waits for a public host (and the values naming it) would hold its dependents for ever.
        for requirement in component["spec"].get("requires") or []:
            if requirement.pop("exposed", False):
                requirement["env"] = [
                    e for e in requirement.get("env") or [] if "{origin}" not in e.get("value", "")
                ]
        for version in component["spec"]["versions"]:
            container = version.get("container")
            if container is not None:
                container["replicas"] = 0
                container["workers"] = []
                # No claims (KWOK has 400 volumes, not thousands) and no credentials the
                # municipality would supply: the figures measure the operator's own work.
                container["volumes"] = []
                container["tenantSecrets"] = []
                # The latency scenario edits a subscription's values with BENCH_EDIT: values
                # are limited to the settings a container declares.
                container.setdefault("settings", []).append({"name": "BENCH_EDIT"})
                # The proxy serves a claim, and there are none here.
                container.pop("proxy", None)
    return out


def with_default_version(
    catalogue: Mapping[str, dict[str, Any]], component: str, version: str
) -> dict[str, dict[str, Any]]:
    """The catalogue with one component's defaultVersion changed (the fan-out scenario)."""
    out = copy.deepcopy(dict(catalogue))
    known = [v["version"] for v in out[component]["spec"]["versions"]]
    if version not in known:
        raise ValueError(f"{component} has no version {version} (catalogue: {known})")
    out[component]["spec"]["defaultVersion"] = version
    return out


def other_version(catalogue: Mapping[str, dict[str, Any]], component: str) -> str:
    """A version of the component other than its defaultVersion (the newest such)."""
    spec = catalogue[component]["spec"]
    others = [v["version"] for v in spec["versions"] if v["version"] != spec["defaultVersion"]]
    if not others:
        raise ValueError(f"{component} has only one version")
    return str(others[-1])


def required(component: str, catalogue: Mapping[str, dict[str, Any]]) -> set[str]:
    """The component and everything it requires (not optional), transitively."""
    out, todo = set(), [component]
    while todo:
        name = todo.pop()
        if name in out:
            continue
        out.add(name)
        for requirement in catalogue[name]["spec"].get("requires") or []:
            if not requirement.get("optional"):
                todo.append(requirement["component"])
    return out


def dependency_order(names: Iterable[str], catalogue: Mapping[str, dict[str, Any]]) -> list[str]:
    """The names with every (subscribed) requirement before the components that need it."""
    wanted, done, out = set(names), set(), []

    def visit(name: str) -> None:
        if name in done:
            return
        done.add(name)
        for requirement in catalogue[name]["spec"].get("requires") or []:
            if requirement["component"] in wanted:
                visit(requirement["component"])
        out.append(name)

    for name in sorted(wanted):
        visit(name)
    return out


def saas_without_credentials(component: Mapping[str, Any]) -> str | None:
    """The name of a SaaS offering that needs no credentials, or None."""
    for offering in component["spec"].get("offerings") or []:
        auth = ((offering.get("saas") or {}).get("auth") or {}).get("type")
        if offering["type"] == "SaaS" and auth == "None":
            return str(offering["name"])
    return None


def choose_components(rng: random.Random, catalogue: Mapping[str, dict[str, Any]]) -> list[str]:
    """8-15 component names: the core, then popular components with their requirements."""
    target = rng.randint(MIN_SUBSCRIPTIONS, MAX_SUBSCRIPTIONS)
    chosen: set[str] = set()
    for name in CORE:
        chosen |= required(name, catalogue)
    # Weighted order without replacement (Efraimidis-Spirakis keys).
    ranked = sorted(
        (name for name in POPULARITY if name in catalogue),
        key=lambda n: rng.random() ** (1 / POPULARITY[n]),
        reverse=True,
    )
    for name in ranked:
        if len(chosen) >= target:
            break
        extra = required(name, catalogue) - chosen
        if len(chosen) + len(extra) <= target:
            chosen |= extra
    return dependency_order(chosen, catalogue)


def backing_types(component: Mapping[str, Any]) -> list[str]:
    """The backing service types (lower case) any version of the component uses."""
    found = {
        service["type"].lower()
        for version in component["spec"]["versions"]
        for service in (version.get("container") or {}).get("backingServices") or []
    }
    return sorted(found)


def rings(codes: Sequence[str], seed: int) -> dict[str, str]:
    """code -> ring: a seeded shuffle cut into ~10% / ~20% / the rest."""
    order = sorted(codes)
    random.Random(f"{seed}:rings").shuffle(order)  # noqa: S311 - a reproducible fleet
    out, start = {}, 0
    for index, (ring, share) in enumerate(RINGS):
        end = len(order) if index == len(RINGS) - 1 else start + round(share * len(order))
        out.update(dict.fromkeys(order[start:end], ring))
        start = end
    return out


def tenant_name(municipality: Municipality) -> str:
    """The tenant's name: its default namespace, gm0363-amsterdam."""
    return default_namespace(municipality.code, municipality.name)


def tenant(
    municipality: Municipality,
    ring: str,
    catalogue: Mapping[str, dict[str, Any]],
    *,
    seed: int,
    external: bool,
) -> dict[str, Any]:
    """The MunicipalityTenant of one municipality."""
    rng = random.Random(f"{seed}:{municipality.code}")  # noqa: S311 - a reproducible fleet
    subscriptions = []
    for name in choose_components(rng, catalogue):
        component = catalogue[name]
        saas = saas_without_credentials(component)
        subscription: dict[str, Any] = {"name": name, "offering": "container"}
        if saas is not None and rng.random() < SAAS_SHARE:
            subscription["offering"] = saas
        elif external and backing_types(component):
            ref = {"mode": "External", "secretRef": {"name": BACKING_SECRET}}
            subscription["backingServices"] = {t: dict(ref) for t in backing_types(component)}
        subscriptions.append(subscription)
    return {
        "apiVersion": API_VERSION,
        "kind": "MunicipalityTenant",
        "metadata": {"name": tenant_name(municipality), "labels": {FLEET_LABEL: "true"}},
        "spec": {
            "municipality": {"name": municipality.name, "code": municipality.code},
            "ring": ring,
            "quota": dict(QUOTA),
            "network": copy.deepcopy(NETWORK),
            "upgradePolicy": "Auto",
            "deletionPolicy": "Delete",
            "components": subscriptions,
        },
    }


def fleet(
    n: int,
    catalogue: Mapping[str, dict[str, Any]],
    *,
    seed: int = DEFAULT_SEED,
    external: bool = True,
    source: Sequence[Municipality] | None = None,
) -> list[dict[str, Any]]:
    """The first n municipalities (in a seeded order) as tenants."""
    everyone = list(source if source is not None else municipalities())
    if not 0 < n <= len(everyone):
        raise ValueError(f"n must be 1..{len(everyone)}, got {n}")
    order = sorted(everyone, key=lambda m: m.code)
    random.Random(f"{seed}:order").shuffle(order)  # noqa: S311 - a reproducible fleet
    picked = order[:n]
    ring_of = rings([m.code for m in picked], seed)
    return [tenant(m, ring_of[m.code], catalogue, seed=seed, external=external) for m in picked]


def labelled(tenant_object: Mapping[str, Any], labels: Mapping[str, str]) -> dict[str, Any]:
    """A copy of a tenant with more labels (e.g. the shard it belongs to)."""
    metadata = dict(tenant_object["metadata"])
    metadata["labels"] = {**(metadata.get("labels") or {}), **labels}
    return {**tenant_object, "metadata": metadata}


def namespace_of(tenant_object: Mapping[str, Any]) -> str:
    """The namespace the operator gives a tenant (no spec.namespace in the fleet)."""
    municipality = tenant_object["spec"]["municipality"]
    return default_namespace(municipality["code"], municipality["name"])


def main(argv: Sequence[str] | None = None) -> int:
    """Print a fleet (tenants, optionally the catalogue variant) as multi-document YAML."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=342, help="municipalities (default: 342)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--replicas", action="store_true", help="real replicas, embedded data")
    parser.add_argument("--catalogue", action="store_true", help="print the catalogue variant too")
    args = parser.parse_args(argv)
    catalogue = bench_catalogue(load_catalogue(), replicas=args.replicas)
    docs: list[dict[str, Any]] = list(catalogue.values()) if args.catalogue else []
    docs += fleet(args.n, catalogue, seed=args.seed, external=not args.replicas)
    yaml.safe_dump_all(docs, sys.stdout, sort_keys=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
