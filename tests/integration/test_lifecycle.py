"""Subscriptions come and go safely: dependencies gate deployment, unsubscribing and deleting
keep or remove data exactly as deletionPolicy says, switching delivery keeps data, and a killed
operator picks up where it was."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.integration.conftest import OperatorProcess, start_operator
from tests.support.cluster import REPO, Cluster, wait_for

TIMEOUT = 240


def _json(cluster: Cluster, *args: str) -> Any:
    return json.loads(cluster.kubectl("get", *args, "-o", "json").stdout)


def _exists(cluster: Cluster, *args: str) -> bool:
    return cluster.kubectl("get", *args, "-o", "name", check=False).returncode == 0


def _ready(cluster: Cluster, *args: str) -> bool:
    obj = json.loads(cluster.kubectl("get", *args, "-o", "json", check=False).stdout or "{}")
    conditions = (obj.get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def tenant(
    name: str, code: str, municipality: str, *components: dict[str, Any], deletion: str = "Retain"
) -> dict[str, Any]:
    return {
        "apiVersion": "appstore.commonground.nl/v1alpha1",
        "kind": "MunicipalityTenant",
        "metadata": {"name": name},
        "spec": {
            "municipality": {"name": municipality, "code": code},
            "ring": "volger",
            "namespace": name,
            "deletionPolicy": deletion,
            "components": list(components),
        },
    }


class Running:
    """The module's operator; a test that kills it leaves its replacement here."""

    def __init__(self, proc: OperatorProcess) -> None:
        self.proc = proc


@pytest.fixture(scope="module")
def operator_with_catalogue(
    cluster: Cluster, crds: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    cluster.kubectl("apply", "--server-side", "-f", str(REPO / "examples" / "catalog"))
    running = Running(start_operator(cluster, tmp_path_factory.mktemp("lifecycle") / "op.log"))
    yield running
    running.proc.stop()


def _delete_tenant(cluster: Cluster, name: str, *, keep_namespace: bool = False) -> None:
    """Delete a test tenant; then its namespace too (Retain keeps it), so a rerun starts clean."""
    cluster.kubectl("delete", "mt", name, "--ignore-not-found", "--wait=false")
    wait_for(f"tenant {name} gone", lambda: not _exists(cluster, "mt", name), timeout=TIMEOUT)
    if not keep_namespace:
        cluster.kubectl("delete", "namespace", name, "--ignore-not-found", "--timeout=120s")


def test_a_missing_dependency_deploys_nothing_until_subscribed(
    cluster: Cluster, operator_with_catalogue: Running
) -> None:
    name = "t-almere"
    cluster.apply(tenant(name, "GM0034", "Almere", {"name": "open-zaak", "offering": "container"}))
    try:

        def missing() -> dict[str, Any] | None:
            if not _exists(cluster, "cgi", "open-zaak", "-n", name):
                return None
            cgi = _json(cluster, "cgi", "open-zaak", "-n", name)
            for c in (cgi.get("status") or {}).get("conditions") or []:
                if c["type"] == "DependenciesReady" and c["status"] == "False":
                    return dict(c)
            return None

        condition = wait_for("DependenciesReady=False", missing, timeout=TIMEOUT)
        assert condition["reason"] == "MissingDependency"
        assert "open-notificaties" in condition["message"]
        assert not _exists(cluster, "deployment", "open-zaak", "-n", name)

        def summarised() -> dict[str, Any] | None:
            # The tenant's summary gathers its installations' changes (up to 2 s later).
            components = (_json(cluster, "mt", name).get("status") or {}).get("components") or []
            if components and components[0].get("reason") == "MissingDependency":
                return dict(components[0])
            return None

        summary = wait_for("the tenant to summarise the missing dependency", summarised, timeout=30)
        assert "open-notificaties" in summary["message"]

        cluster.apply(
            tenant(
                name,
                "GM0034",
                "Almere",
                {"name": "open-zaak", "offering": "container"},
                {"name": "open-notificaties", "offering": "container"},
            )
        )
        wait_for("the chain to come up", lambda: _ready(cluster, "mt", name), timeout=TIMEOUT)
        notificaties = _json(cluster, "deployment", "open-notificaties", "-n", name)
        zaak = _json(cluster, "deployment", "open-zaak", "-n", name)
        created = [d["metadata"]["creationTimestamp"] for d in (notificaties, zaak)]
        assert created[0] <= created[1], "the dependency is deployed before its dependent"
    finally:
        _delete_tenant(cluster, name)


def _data(cluster: Cluster, namespace: str, installation: str) -> dict[str, dict[str, str]]:
    selector = f"appstore.commonground.nl/installation={installation}"
    items = _json(cluster, "pvc,secret", "-n", namespace, "-l", selector)["items"]
    return {
        f"{i['kind']}/{i['metadata']['name']}": i["metadata"].get("labels") or {}
        for i in items
        if i["kind"] == "PersistentVolumeClaim" or not i["metadata"]["name"].endswith("-binding")
    }


@pytest.mark.parametrize("policy", ["Retain", "Delete"])
def test_unsubscribing_keeps_or_removes_data_as_the_policy_says(
    cluster: Cluster, operator_with_catalogue: Running, policy: str
) -> None:
    name = f"t-zwolle-{policy.lower()}"
    objecttypen = {"name": "objecttypen", "offering": "container"}
    product = {"name": "open-product", "offering": "container"}
    cluster.apply(tenant(name, "GM0193", "Zwolle", objecttypen, product, deletion=policy))
    try:
        wait_for("tenant Ready", lambda: _ready(cluster, "mt", name), timeout=TIMEOUT)
        data = _data(cluster, name, "objecttypen")
        assert "PersistentVolumeClaim/data-objecttypen-postgresql-0" in data
        assert "Secret/objecttypen-postgresql" in data

        cluster.apply(tenant(name, "GM0193", "Zwolle", product, deletion=policy))
        wait_for(
            "the installation to go",
            lambda: not _exists(cluster, "cgi", "objecttypen", "-n", name),
            timeout=TIMEOUT,
        )
        wait_for(
            "its workloads to go",
            lambda: not _exists(cluster, "deployment", "objecttypen", "-n", name),
            timeout=TIMEOUT,
        )
        assert not _exists(cluster, "secret", "objecttypen-binding", "-n", name)
        left = _data(cluster, name, "objecttypen")
        if policy == "Retain":
            assert set(left) == set(data)
            assert all(
                labels.get("appstore.commonground.nl/retained") == "true"
                for labels in left.values()
            )
        else:
            wait_for(
                "its data to go", lambda: not _data(cluster, name, "objecttypen"), timeout=TIMEOUT
            )
        assert _ready(cluster, "cgi", "open-product", "-n", name), "the other one is untouched"
    finally:
        _delete_tenant(cluster, name)


def test_an_installation_deleted_by_hand_is_made_again_with_its_finalizer(
    cluster: Cluster, operator_with_catalogue: Running
) -> None:
    """The tenant makes its installations with the finalizer already on them; another
    controller's finalizer beside it is not drift; one deleted by hand while still subscribed is
    left alone until it is gone (even when someone else's finalizer holds it), then made again."""
    name, ours, theirs = (
        "t-lelystad-again",
        "appstore.commonground.nl/finalizer",
        "example.org/hold",
    )
    cluster.apply(
        tenant(name, "GM0995", "Lelystad", {"name": "open-product", "offering": "container"})
    )
    try:
        wait_for("tenant Ready", lambda: _ready(cluster, "mt", name), timeout=TIMEOUT)
        first = _json(cluster, "cgi", "open-product", "-n", name)
        assert first["metadata"]["finalizers"] == [ours]
        add = [{"op": "add", "path": "/metadata/finalizers/-", "value": theirs}]
        cluster.kubectl(
            "patch", "cgi", "open-product", "-n", name, "--type=json", "-p", json.dumps(add)
        )
        cluster.kubectl("delete", "cgi", "open-product", "-n", name, "--wait=false")
        wait_for(
            "ours removed, theirs still holding it",
            lambda: (
                _json(cluster, "cgi", "open-product", "-n", name)["metadata"].get("finalizers")
                == [theirs]
            ),
            timeout=TIMEOUT,
        )
        cluster.kubectl(
            "patch",
            "cgi",
            "open-product",
            "-n",
            name,
            "--type=merge",
            "-p",
            json.dumps({"metadata": {"finalizers": None}}),
        )

        def made_again() -> dict[str, Any] | None:
            live = json.loads(
                cluster.kubectl(
                    "get", "cgi", "open-product", "-n", name, "-o", "json", check=False
                ).stdout
                or "{}"
            )
            uid = (live.get("metadata") or {}).get("uid")
            return live if uid and uid != first["metadata"]["uid"] else None

        again = wait_for("the installation made again", made_again, timeout=TIMEOUT)
        assert again["metadata"]["finalizers"] == [ours]
        wait_for(
            "Ready again",
            lambda: _ready(cluster, "cgi", "open-product", "-n", name),
            timeout=TIMEOUT,
        )
        events = _json(cluster, "events", "-A", "--field-selector", f"involvedObject.name={name}")
        reasons = {e["reason"] for e in events["items"]}
        assert not reasons & {"DriftRepaired", "ReconcileError"}, reasons
    finally:
        _delete_tenant(cluster, name)


@pytest.mark.parametrize("policy", ["Retain", "Delete"])
def test_deleting_a_tenant_keeps_or_removes_its_namespace(
    cluster: Cluster, operator_with_catalogue: Running, policy: str
) -> None:
    name = f"t-emmen-{policy.lower()}"
    cluster.apply(
        tenant(
            name,
            "GM0114",
            "Emmen",
            {"name": "objecttypen", "offering": "container"},
            deletion=policy,
        )
    )
    wait_for("tenant Ready", lambda: _ready(cluster, "mt", name), timeout=TIMEOUT)
    _delete_tenant(cluster, name, keep_namespace=True)
    if policy == "Retain":
        namespace = _json(cluster, "namespace", name)
        assert namespace["metadata"]["labels"]["appstore.commonground.nl/retained"] == "true"
        assert _exists(cluster, "secret", "objecttypen-postgresql", "-n", name)
        assert _exists(cluster, "pvc", "data-objecttypen-postgresql-0", "-n", name)
        # Workloads go with their installation through garbage collection, in the background.
        wait_for(
            "the workloads removed",
            lambda: not _exists(cluster, "deployment", "objecttypen", "-n", name),
            timeout=TIMEOUT,
        )
        cluster.kubectl("delete", "namespace", name, "--timeout=120s")
    else:

        def namespace_gone() -> bool:
            found = cluster.kubectl("get", "namespace", name, "-o", "json", check=False)
            return found.returncode != 0 or bool(
                json.loads(found.stdout)["metadata"].get("deletionTimestamp")
            )

        wait_for("the namespace to be deleted", namespace_gone, timeout=TIMEOUT)


def test_a_tenant_whose_namespace_is_gone_finishes_deleting(
    cluster: Cluster, operator_with_catalogue: Running
) -> None:
    name = "t-oss"
    cluster.apply(
        tenant(
            name,
            "GM1568",
            "Oss",
            {"name": "referentielijsten", "offering": "registerdiensten-saas"},
        )
    )
    wait_for("tenant Ready", lambda: _ready(cluster, "mt", name), timeout=TIMEOUT)
    cluster.kubectl("delete", "namespace", name, "--wait=true", "--timeout=120s")
    _delete_tenant(cluster, name)


def _service_type(cluster: Cluster, namespace: str, name: str) -> str | None:
    """The Service's type, or None while it does not exist (it is replaced, not updated,
    when its type changes)."""
    found = cluster.kubectl("get", "service", name, "-n", namespace, "-o", "json", check=False)
    return json.loads(found.stdout)["spec"]["type"] if found.returncode == 0 else None


def test_switching_container_to_saas_and_back_keeps_the_data(
    cluster: Cluster, operator_with_catalogue: Running
) -> None:
    name = "t-delft"
    container = {"name": "referentielijsten", "offering": "container"}
    saas = {"name": "referentielijsten", "offering": "registerdiensten-saas"}
    cluster.apply(tenant(name, "GM0503", "Delft", container))
    try:
        wait_for("container delivery Ready", lambda: _ready(cluster, "mt", name), timeout=TIMEOUT)
        data = _data(cluster, name, "referentielijsten")
        assert data
        cluster.apply(tenant(name, "GM0503", "Delft", saas))

        def switched() -> bool:
            service = _service_type(cluster, name, "referentielijsten")
            return service == "ExternalName" and not _exists(
                cluster, "deployment", "referentielijsten", "-n", name
            )

        wait_for("the SaaS binding to replace the containers", switched, timeout=TIMEOUT)
        wait_for("SaaS delivery Ready", lambda: _ready(cluster, "mt", name), timeout=TIMEOUT)
        left = _data(cluster, name, "referentielijsten")
        assert set(left) == set(data), "PVCs and database Secrets stay"
        assert not _exists(cluster, "statefulset", "referentielijsten-postgresql", "-n", name)

        # And back: the containers return, on the data that was kept.
        password = _json(cluster, "secret", "referentielijsten-postgresql", "-n", name)["data"]
        cluster.apply(tenant(name, "GM0503", "Delft", container))

        def back() -> bool:
            service = _service_type(cluster, name, "referentielijsten")
            return service == "ClusterIP" and _ready(cluster, "mt", name)

        wait_for("the containers to replace the SaaS binding", back, timeout=TIMEOUT)
        assert _exists(cluster, "deployment", "referentielijsten", "-n", name)
        claim = _json(cluster, "pvc", "data-referentielijsten-postgresql-0", "-n", name)
        assert claim["status"]["phase"] == "Bound", "the StatefulSet reuses the kept claim"
        again = _json(cluster, "secret", "referentielijsten-postgresql", "-n", name)["data"]
        assert again["password"] == password["password"], "the database password is kept"
        wait_for(
            "the reused data to lose its retained label",
            lambda: (
                not any(
                    "appstore.commonground.nl/retained" in labels
                    for labels in _data(cluster, name, "referentielijsten").values()
                )
            ),
            timeout=60,
        )
    finally:
        _delete_tenant(cluster, name)


def _expected_deployments(*components: str) -> list[str]:
    """Web, one Deployment per worker and the proxy (when it has one) of each component's
    default version."""
    names = []
    for component in components:
        doc = yaml.safe_load((REPO / "examples" / "catalog" / f"{component}.yaml").read_text())
        spec = doc["spec"]
        version = next(v for v in spec["versions"] if v["version"] == spec["defaultVersion"])
        names.append(component)
        names += [f"{component}-{w['name']}" for w in version["container"].get("workers", [])]
        if version["container"].get("proxy"):
            names.append(f"{component}-proxy")
    return sorted(names)


def test_a_killed_operator_converges_with_nothing_duplicated_or_orphaned(
    cluster: Cluster, crds: None, operator_with_catalogue: Running, tmp_path: Any
) -> None:
    names = [f"t-kill-{i}" for i in range(3)]
    operator_with_catalogue.proc.stop()
    first = start_operator(cluster, tmp_path / "first.log")
    for i, name in enumerate(names):
        cluster.apply(
            tenant(
                name,
                f"GM0{300 + i}",
                f"Gemeente {i}",
                {"name": "open-zaak", "offering": "container"},
                {"name": "open-notificaties", "offering": "container"},
            )
        )
    wait_for(
        "the first operator to be mid-way",
        lambda: "applied Deployment" in first.log(),
        timeout=TIMEOUT,
    )
    first.process.send_signal(signal.SIGKILL)
    first.stop(kill=True)
    second = start_operator(cluster, tmp_path / "second.log")
    operator_with_catalogue.proc = second  # keeps running for the tests after this one
    try:
        for name in names:
            wait_for(f"{name} Ready", lambda n=name: _ready(cluster, "mt", n), timeout=TIMEOUT)
        for name in names:
            deployments = _json(cluster, "deployments", "-n", name)["items"]
            assert sorted(d["metadata"]["name"] for d in deployments) == _expected_deployments(
                "open-zaak", "open-notificaties"
            )
            installations = {
                c["metadata"]["uid"] for c in _json(cluster, "cgi", "-n", name)["items"]
            }
            owned = _json(
                cluster,
                "deployments,services,configmaps,statefulsets",
                "-n",
                name,
                "-l",
                "app.kubernetes.io/managed-by=cg-operator,appstore.commonground.nl/installation",
            )
            for obj in owned["items"]:
                owners = {o["uid"] for o in obj["metadata"].get("ownerReferences") or []}
                assert owners & installations, f"{obj['kind']}/{obj['metadata']['name']} orphaned"
    finally:
        for name in names:
            _delete_tenant(cluster, name)


def test_a_namespace_that_is_not_ours_is_never_taken_over(
    cluster: Cluster, operator_with_catalogue: Running
) -> None:
    name = "t-hijack"
    hijack = tenant(name, "GM0362", "Amstelveen", {"name": "objecttypen", "offering": "container"})
    hijack["spec"]["namespace"] = "kube-system"
    cluster.apply(hijack)
    try:

        def invalid() -> dict[str, Any] | None:
            conditions = (_json(cluster, "mt", name).get("status") or {}).get("conditions") or []
            ready = next((c for c in conditions if c["type"] == "Ready"), None)
            return ready if ready and ready["reason"] == "InvalidSpec" else None

        ready = wait_for("InvalidSpec for a foreign namespace", invalid, timeout=TIMEOUT)
        assert "spec.namespace" in ready["message"]
        assert "not managed by cg-operator" in ready["message"]
        labels = _json(cluster, "namespace", "kube-system")["metadata"].get("labels") or {}
        assert "appstore.commonground.nl/tenant" not in labels
        assert not _exists(cluster, "cgi", "-n", "kube-system", "objecttypen")
    finally:
        _delete_tenant(cluster, name)
    assert _exists(cluster, "namespace", "kube-system")


def _ready_condition(cluster: Cluster, name: str) -> dict[str, Any] | None:
    conditions = (_json(cluster, "mt", name).get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == "Ready"), None)


def _tenant_label(cluster: Cluster, namespace: str) -> str | None:
    labels = _json(cluster, "namespace", namespace)["metadata"].get("labels") or {}
    return labels.get("appstore.commonground.nl/tenant")


def test_two_tenants_racing_for_one_namespace_leave_it_to_exactly_one(
    cluster: Cluster, operator_with_catalogue: Running, tmp_path: Any
) -> None:
    """Both tenants of each pair reach the operator in the same instant (applied while it is
    stopped, released together by its start-up gate): one gets the namespace, the other is
    refused naming it, and deleting the loser, even with deletionPolicy Delete, leaves the
    winner's namespace alone."""
    pairs = [(f"t-race-{i}-a", f"t-race-{i}-b", f"t-race-{i}") for i in range(4)]
    operator_with_catalogue.proc.stop()
    for i, (first, second, shared) in enumerate(pairs):
        # Two municipalities (one tenant per CBS code) naming the same namespace.
        for j, name in enumerate((first, second)):
            code = f"GM0{510 + 2 * i + j}"
            contender = tenant(name, code, f"Race {i}{j}", deletion="Delete")
            contender["spec"]["namespace"] = shared
            cluster.apply(contender)
    operator_with_catalogue.proc = start_operator(cluster, tmp_path / "op.log")
    try:
        for first, second, shared in pairs:

            def settled(a: str = first, b: str = second) -> list[dict[str, Any]] | None:
                found = [_ready_condition(cluster, a), _ready_condition(cluster, b)]
                return found if all(found) else None

            wait_for(f"{first} and {second} judged", settled, timeout=TIMEOUT)
            owner = _tenant_label(cluster, shared)
            assert owner in (first, second)
            loser = second if owner == first else first
            wait_for(f"{owner} Ready", lambda o=owner: _ready(cluster, "mt", o), timeout=TIMEOUT)
            refused = _ready_condition(cluster, loser)
            assert refused is not None
            assert refused["status"] == "False"
            assert refused["reason"] == "InvalidSpec"
            assert f"namespace {shared!r} belongs to tenant {owner!r}" in refused["message"]
            assert "spec.namespace" in refused["message"]
            _delete_tenant(cluster, loser, keep_namespace=True)
            namespace = _json(cluster, "namespace", shared)
            assert not namespace["metadata"].get("deletionTimestamp")
            assert _tenant_label(cluster, shared) == owner
            assert _ready(cluster, "mt", owner)
    finally:
        for first, second, _shared in pairs:
            _delete_tenant(cluster, first)
            _delete_tenant(cluster, second)


def test_a_forged_status_never_makes_the_operator_delete_another_namespace(
    cluster: Cluster, operator_with_catalogue: Running, tmp_path: Any
) -> None:
    """Anyone who may write a tenant's status could once point status.namespace at any
    namespace and have the operator delete it with the tenant. The namespace to delete is the
    tenant's own, by its label, checked on a fresh read."""
    victim, forger = "t-victim", "t-forger"
    cluster.apply(tenant(victim, "GM0600", "Victim"))
    cluster.apply(tenant(forger, "GM0601", "Forger", deletion="Delete"))
    try:
        for name in (victim, forger):
            wait_for(f"{name} Ready", lambda n=name: _ready(cluster, "mt", n), timeout=TIMEOUT)
        operator_with_catalogue.proc.stop()  # the forged status must be what the operator finds
        cluster.kubectl(
            "patch", "mt", forger, "--subresource=status", "--type=merge",
            "-p", json.dumps({"status": {"namespace": victim}}),
        )  # fmt: skip
        cluster.kubectl("delete", "mt", forger, "--wait=false")
        operator_with_catalogue.proc = start_operator(cluster, tmp_path / "op.log")
        wait_for(f"{forger} gone", lambda: not _exists(cluster, "mt", forger), timeout=TIMEOUT)

        def forger_namespace_deleted() -> bool:
            found = cluster.kubectl("get", "namespace", forger, "-o", "json", check=False)
            return found.returncode != 0 or bool(
                json.loads(found.stdout)["metadata"].get("deletionTimestamp")
            )

        wait_for("the forger's own namespace deleted", forger_namespace_deleted, timeout=TIMEOUT)
        namespace = _json(cluster, "namespace", victim)
        assert not namespace["metadata"].get("deletionTimestamp")
        assert _tenant_label(cluster, victim) == victim
        assert _ready(cluster, "mt", victim)
    finally:
        _delete_tenant(cluster, forger)
        _delete_tenant(cluster, victim)


def test_renaming_a_municipality_keeps_its_namespace_and_data(
    cluster: Cluster, operator_with_catalogue: Running
) -> None:
    """The default namespace derives from the name; a rename must not move the municipality to
    a new namespace with empty databases."""
    name = "t-rename"
    renamed = tenant(name, "GM0602", "Oud Naam", {"name": "objecttypen", "offering": "container"})
    del renamed["spec"]["namespace"]
    cluster.apply(renamed)
    given = "gm0602-oud-naam"
    try:
        wait_for("tenant Ready", lambda: _ready(cluster, "mt", name), timeout=TIMEOUT)
        secret = _json(cluster, "secret", "objecttypen-postgresql", "-n", given)
        renamed["spec"]["municipality"]["name"] = "Nieuwe Naam"
        cluster.apply(renamed)

        def renamed_and_settled() -> bool:
            found = _json(cluster, "mt", name)
            status = found.get("status") or {}
            return status.get("observedGeneration") == found["metadata"]["generation"] and (
                _ready(cluster, "mt", name)
            )

        wait_for("the rename reconciled", renamed_and_settled, timeout=TIMEOUT)
        assert _json(cluster, "mt", name)["status"]["namespace"] == given
        assert not _exists(cluster, "namespace", "gm0602-nieuwe-naam")
        again = _json(cluster, "secret", "objecttypen-postgresql", "-n", given)
        assert again["metadata"]["uid"] == secret["metadata"]["uid"]
        installation = _json(cluster, "cgi", "objecttypen", "-n", given)
        assert installation["spec"]["municipality"]["name"] == "Nieuwe Naam"
    finally:
        cluster.kubectl("delete", "mt", name, "--ignore-not-found", "--wait=false")
        wait_for(f"tenant {name} gone", lambda: not _exists(cluster, "mt", name), timeout=TIMEOUT)
        cluster.kubectl("delete", "namespace", given, "--ignore-not-found", "--timeout=120s")
