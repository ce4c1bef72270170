"""Reconciliation against the real control plane: examples/ converge, children are exactly what
they should be, drift is repaired, an idle or restarted operator writes nothing, dependencies
gate deployment, and data is kept or removed exactly as deletionPolicy says."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from cg_operator.api.constants import ANNOTATION_CONFIG_HASH
from tests.integration.conftest import OperatorProcess, start_operator
from tests.support.apiserver import WriteWindow
from tests.support.cluster import (
    Cluster,
    apply_examples,
    apply_tenant_secrets,
    example_tenants_ready,
    get_json,
    rollouts_at_rest,
    wait_for,
)

CONVERGE_TIMEOUT = 420


def _json(cluster: Cluster, *args: str) -> Any:
    return json.loads(cluster.kubectl("get", *args, "-o", "json").stdout)


def _condition(obj: dict[str, Any], type_: str) -> dict[str, Any]:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition["type"] == type_:
            return dict(condition)
    return {}


@pytest.fixture(scope="module")
def converged(
    cluster: Cluster, crds: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    """examples/ applied and every example tenant Ready, with the operator running."""
    proc = start_operator(cluster, tmp_path_factory.mktemp("reconcile") / "operator.log")
    apply_examples(cluster)
    try:
        apply_tenant_secrets(cluster)
        wait_for(
            "every example tenant Ready",
            lambda: example_tenants_ready(cluster),
            timeout=CONVERGE_TIMEOUT,
            interval=1,
        )
    except AssertionError:
        print(proc.log()[-5000:])
        raise
    yield proc
    proc.stop()


def test_every_installation_reports_ready_with_its_running_version(
    cluster: Cluster, converged: OperatorProcess
) -> None:
    installations = _json(cluster, "cgi", "-A")["items"]
    assert len(installations) >= 40
    for cgi in installations:
        if cgi["metadata"]["namespace"].startswith(("bad-", "t-")):
            continue
        status = cgi["status"]
        assert _condition(cgi, "Ready")["status"] == "True", cgi["metadata"]
        assert status["observedVersion"] == cgi["spec"]["version"]
        assert status["observedGeneration"] == cgi["metadata"]["generation"]
        assert status["bindingSecretName"] == f"{cgi['spec']['component']}-binding"


def test_tenant_status_summarises_each_component(
    cluster: Cluster, converged: OperatorProcess
) -> None:
    tenant = _json(cluster, "mt", "gm0363-amsterdam")
    status = tenant["status"]
    assert status["namespace"] == "gm0363-amsterdam"
    assert status["componentsReady"] == f"{len(tenant['spec']['components'])}/" + str(
        len(tenant["spec"]["components"])
    )
    by_name = {c["name"]: c for c in status["components"]}
    assert by_name["open-zaak"]["delivery"] == "Container"
    assert by_name["open-zaak"]["ready"] is True
    assert by_name["open-zaak"]["version"]
    cluster.kubectl("wait", "--for=condition=Ready", "mt/gm0363-amsterdam", "--timeout=5s")


def test_namespace_has_its_guard_rails(cluster: Cluster, converged: OperatorProcess) -> None:
    namespace = _json(cluster, "namespace", "gm0599-rotterdam")
    labels = namespace["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert labels["appstore.commonground.nl/tenant"] == "gm0599-rotterdam"
    assert labels["appstore.commonground.nl/ring"] == "koploper"
    policies = {
        p["metadata"]["name"]
        for p in _json(cluster, "networkpolicy", "-n", "gm0599-rotterdam")["items"]
    }
    assert {"default-deny", "allow-same-namespace", "allow-dns"} <= policies
    quota = _json(cluster, "resourcequota", "tenant-quota", "-n", "gm0599-rotterdam")
    assert quota["spec"]["hard"]["pods"]
    account = _json(cluster, "serviceaccount", "cg-workload", "-n", "gm0599-rotterdam")
    assert account["automountServiceAccountToken"] is False
    tenant = _json(cluster, "mt", "gm0599-rotterdam")
    assert tenant["metadata"]["labels"]["appstore.commonground.nl/ring"] == "koploper"


def _children(
    cluster: Cluster, namespace: str, installation: str, *more: str
) -> set[tuple[str, str]]:
    selector = f"appstore.commonground.nl/installation={installation}"
    kinds = ",".join(
        (
            "deployments,statefulsets,services,configmaps,secrets,poddisruptionbudgets,"
            "networkpolicies,ingresses",
            *more,
        )
    )
    items = _json(cluster, kinds, "-n", namespace, "-l", selector)["items"]
    return {(i["kind"], i["metadata"]["name"]) for i in items}


def test_a_container_installation_has_exactly_its_objects(
    cluster: Cluster, converged: OperatorProcess
) -> None:
    children = _children(cluster, "gm0363-amsterdam", "objecttypen", "jobs")
    # Amsterdam subscribes to Objecten too, so Objecttypen's configuration part for it runs:
    # its ConfigMap and one Job, named by the hash of its inputs.
    (job,) = [name for kind, name in children if kind == "Job"]
    assert job.startswith("objecttypen-configure-")
    assert children - {("Job", job)} == {
        ("ConfigMap", "objecttypen-configuration"),
        ("Deployment", "objecttypen"),
        ("Service", "objecttypen"),
        ("ConfigMap", "objecttypen-config"),
        ("Secret", "objecttypen-binding"),
        ("Secret", "objecttypen-secrets"),
        ("StatefulSet", "objecttypen-postgresql"),
        ("Service", "objecttypen-postgresql"),
        ("Secret", "objecttypen-postgresql"),
        ("NetworkPolicy", "objecttypen-postgresql"),
        ("StatefulSet", "objecttypen-redis"),
        ("Service", "objecttypen-redis"),
        ("Secret", "objecttypen-redis"),
        ("NetworkPolicy", "objecttypen-redis"),
        # Exposed under the tenant's domain (amsterdam.example).
        ("Ingress", "objecttypen"),
    }
    cgi = _json(cluster, "cgi", "objecttypen", "-n", "gm0363-amsterdam")
    inventory = {(e["kind"], e["name"]) for e in cgi["status"]["inventory"]}
    assert inventory == children
    deployment = _json(cluster, "deployment", "objecttypen", "-n", "gm0363-amsterdam")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["enableServiceLinks"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    container = pod["containers"][0]
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert container["readinessProbe"]["httpGet"]["path"]
    env = {e["name"]: e for e in container["env"]}
    assert env["DB_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "objecttypen-postgresql",
        "key": "password",
    }
    assert env["SECRET_KEY"]["valueFrom"]["secretKeyRef"] == {
        "name": "objecttypen-secrets",
        "key": "SECRET_KEY",
    }
    # No inline connection details: a Secret key, or a value composed only of references the
    # kubelet expands ($(CG_REDIS_HOST)).
    assert all(
        "value" not in e or re.fullmatch(r"([^$]|\$\(CG_[A-Z_]+\))*", e["value"])
        for e in container["env"]
    ), "no inline connection details"


def _binding(cluster: Cluster, namespace: str, component: str) -> dict[str, str]:
    secret = _json(cluster, "secret", f"{component}-binding", "-n", namespace)
    return {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}


def test_a_saas_installation_is_a_binding_and_an_external_name(
    cluster: Cluster, converged: OperatorProcess
) -> None:
    namespace = "gm0344-utrecht"
    assert _children(cluster, namespace, "open-inwoner") == {
        ("Service", "open-inwoner"),
        ("Secret", "open-inwoner-binding"),
    }
    service = _json(cluster, "service", "open-inwoner", "-n", namespace)
    binding = _binding(cluster, namespace, "open-inwoner")
    assert service["spec"]["type"] == "ExternalName"
    assert service["spec"]["externalName"] == binding["host"]
    assert set(binding) >= {"type", "provider", "uri", "host", "port"}
    assert "utrecht" in binding["uri"]
    cgi = _json(cluster, "cgi", "open-inwoner", "-n", namespace)
    assert cgi["status"]["endpoint"] == binding["uri"]
    assert cgi["status"]["delivery"] == "SaaS"


def test_dependencies_are_wired_from_their_binding(
    cluster: Cluster, converged: OperatorProcess
) -> None:
    deployment = _json(cluster, "deployment", "open-zaak", "-n", "gm0363-amsterdam")
    env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["NOTIFICATIONS_API_ROOT"]["valueFrom"]["secretKeyRef"] == {
        "name": "open-notificaties-binding",
        "key": "uri",
    }
    binding = _binding(cluster, "gm0363-amsterdam", "open-notificaties")
    assert binding["uri"] == "http://open-notificaties.gm0363-amsterdam.svc.cluster.local/"


def test_hand_made_drift_is_repaired(cluster: Cluster, converged: OperatorProcess) -> None:
    namespace = "gm0153-enschede"
    cluster.kubectl("delete", "service", "open-zaak", "-n", namespace)
    cluster.kubectl(
        "patch",
        "configmap",
        "open-zaak-config",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        '{"data": {"ENVIRONMENT": "hacked"}}',
    )
    cluster.kubectl("scale", "deployment", "open-zaak", "-n", namespace, "--replicas=5")
    wanted = _json(cluster, "cgc", "open-zaak")

    def repaired() -> bool:
        services = _json(cluster, "service", "-n", namespace)["items"]
        config = _json(cluster, "configmap", "open-zaak-config", "-n", namespace)["data"]
        deployment = _json(cluster, "deployment", "open-zaak", "-n", namespace)
        return (
            any(s["metadata"]["name"] == "open-zaak" for s in services)
            and config.get("ENVIRONMENT") != "hacked"
            and deployment["spec"]["replicas"] != 5
        )

    wait_for("the operator to repair the Service, ConfigMap and Deployment", repaired, timeout=60)
    assert (
        wanted["metadata"]["generation"]
        == _json(cluster, "cgc", "open-zaak")["metadata"]["generation"]
    )


def test_a_value_removed_from_a_subscription_leaves_every_child_it_reached(
    cluster: Cluster, converged: OperatorProcess
) -> None:
    """Removal is drift too: the key leaves the installation's spec and the ConfigMap (and so
    the pods' environment), not only the tenant."""
    tenant, namespace = "gm0363-amsterdam", "gm0363-amsterdam"
    components = _json(cluster, "mt", tenant)["spec"]["components"]
    index = next(i for i, c in enumerate(components) if c["name"] == "signalen")
    path = f"/spec/components/{index}/values/ORGANIZATION_NAME"
    value = "Gemeente Amsterdam"

    def organisation() -> tuple[Any, Any]:
        cgi = _json(cluster, "cgi", "signalen", "-n", namespace)
        config = _json(cluster, "configmap", "signalen-config", "-n", namespace)["data"]
        return cgi["spec"].get("values", {}).get("ORGANIZATION_NAME"), config.get(
            "ORGANIZATION_NAME"
        )

    assert organisation() == (value, value)
    removal = json.dumps([{"op": "remove", "path": path}])
    cluster.kubectl("patch", "mt", tenant, "--type=json", "-p", removal)
    try:
        wait_for(
            "ORGANIZATION_NAME to leave the installation and its ConfigMap",
            lambda: organisation() == (None, None),
            timeout=60,
        )
    finally:
        restore = json.dumps([{"op": "add", "path": path, "value": value}])
        cluster.kubectl("patch", "mt", tenant, "--type=json", "-p", restore)
    wait_for("ORGANIZATION_NAME to come back", lambda: organisation() == (value, value), timeout=60)


def test_an_installation_outside_its_tenants_namespace_deploys_nothing(
    cluster: Cluster, converged: OperatorProcess
) -> None:
    """A hand-written installation in a namespace no tenant owns is refused, naming
    spec.tenant, and nothing is deployed or copied there."""
    copied = _json(cluster, "cgi", "open-zaak", "-n", "gm0363-amsterdam")
    cluster.kubectl("create", "namespace", "team-x")
    try:
        cluster.kubectl(
            "create",
            "secret",
            "generic",
            "db-creds",
            "-n",
            "team-x",
            "--from-literal=password=not-for-a-binding",
        )
        stray = {
            "apiVersion": copied["apiVersion"],
            "kind": copied["kind"],
            "metadata": {"name": "open-zaak", "namespace": "team-x"},
            "spec": copied["spec"],
        }
        cluster.kubectl("apply", "-f", "-", input_text=json.dumps(stray))

        def refused() -> dict[str, Any] | None:
            ready = _condition(_json(cluster, "cgi", "open-zaak", "-n", "team-x"), "Ready")
            return ready if ready.get("status") == "False" else None

        ready = wait_for("the stray installation to be refused", refused, timeout=60)
        assert ready["reason"] == "InvalidSpec"
        assert "spec.tenant" in ready["message"]
        assert "not tenant 'gm0363-amsterdam'" in ready["message"]
        children = _json(cluster, "deploy,svc,configmap,secret", "-n", "team-x")["items"]
        assert {c["metadata"]["name"] for c in children} <= {"db-creds", "kube-root-ca.crt"}
    finally:
        # Waited for: the installation's finalizer is the operator's to remove, and later
        # tests count installations and writes.
        cluster.kubectl("delete", "namespace", "team-x", "--timeout=90s")


def test_the_catalogue_shows_adoption_per_version_and_ring(
    cluster: Cluster, converged: OperatorProcess
) -> None:
    """The App Store's fleet view reads these counts: per version, and per ring the tenant is
    in, also after a municipality moves to another ring."""

    def counted() -> dict[tuple[str, str], tuple[int, int]]:
        rings = {
            t["metadata"]["name"]: t["spec"].get("ring", "volger")
            for t in _json(cluster, "mt")["items"]
        }
        out: dict[tuple[str, str], tuple[int, int]] = {}
        for cgi in _json(cluster, "cgi", "-A")["items"]:
            if cgi["spec"]["component"] != "open-zaak":
                continue
            key = (cgi["status"]["observedVersion"], rings[cgi["spec"]["tenant"]])
            tenants, ready = out.get(key, (0, 0))
            is_ready = _condition(cgi, "Ready").get("status") == "True"
            out[key] = (tenants + 1, ready + int(is_ready))
        return out

    def adoption() -> dict[tuple[str, str], tuple[int, int]] | None:
        status = _json(cluster, "cgc", "open-zaak").get("status") or {}
        found = {
            (a["version"], r["ring"]): (r["tenants"], r["ready"])
            for a in status.get("adoption") or []
            for r in a.get("rings") or []
        }
        totals = {a["version"]: (a["tenants"], a["ready"]) for a in status.get("adoption") or []}
        by_version: dict[str, tuple[int, int]] = {}
        for (version, _ring), (tenants, ready) in found.items():
            was = by_version.get(version, (0, 0))
            by_version[version] = (was[0] + tenants, was[1] + ready)
        return found if found == counted() and by_version == totals else None

    rows = wait_for("open-zaak's adoption to match its installations", adoption, timeout=60)
    assert sum(tenants for tenants, _ready in rows.values()) >= 5
    assert len({ring for _version, ring in rows}) >= 2, rows
    subscribers = {
        i["spec"]["tenant"]
        for i in _json(cluster, "cgi", "-A")["items"]
        if i["spec"]["component"] == "open-zaak"
    }
    assert _json(cluster, "cgc", "open-zaak")["status"]["tenants"] == len(subscribers)

    moved = sorted(subscribers)[0]
    was = _json(cluster, "mt", moved)["spec"].get("ring", "volger")
    try:
        cluster.kubectl("patch", "mt", moved, "--type=merge", "-p", '{"spec":{"ring":"proef"}}')
        after = wait_for("the moved municipality counted in its new ring", adoption, timeout=60)
        assert any(ring == "proef" for _version, ring in after), after
    finally:
        cluster.kubectl(
            "patch", "mt", moved, "--type=merge", "-p", f'{{"spec":{{"ring":"{was}"}}}}'
        )
    wait_for("the municipality counted in its ring again", adoption, timeout=60)


def test_domain_actions_are_events_not_handler_chatter(
    cluster: Cluster, converged: OperatorProcess
) -> None:
    events = _json(cluster, "events", "-n", "gm0363-amsterdam")["items"]
    ours = [e for e in events if (e.get("source") or {}).get("component") == "cg-operator"]
    installed = {e["involvedObject"]["name"] for e in ours if e["reason"] == "Installed"}
    components = {c["name"] for c in _json(cluster, "mt", "gm0363-amsterdam")["spec"]["components"]}
    assert installed == components, "one Installed event per installation"
    assert {e["reason"] for e in ours} <= {
        "Installed",
        "Upgraded",
        "BindingRotated",
        "MissingDependency",
        "DependencyNotReady",
        # Health transitions are domain events too (a drift test removes a workload here).
        "Unhealthy",
        "Recovered",
        # The configuration Job (Open Zaak, Open Notificaties) succeeded.
        "Configured",
    }
    assert all(e["count"] == 1 for e in ours if e["reason"] == "Installed")


def _configuration_job(
    cluster: Cluster, component: str, namespace: str = "gm0363-amsterdam"
) -> str | None:
    """The configuration Job its installation is Configured by, when it is."""
    cgi = _json(cluster, "cgi", component, "-n", namespace)
    condition = _condition(cgi, "Configured")
    if condition.get("status") != "True":
        return None
    return str(condition["message"].split()[3])  # "the configuration Job <name> succeeded"


def test_wired_components_are_configured_with_one_credential_per_pair(
    cluster: Cluster, converged: OperatorProcess
) -> None:
    """Open Zaak and Open Notificaties each ran their configuration Job (KWOK's default
    pod-complete stage finishes a Job's pods, and the Job controller marks it Complete), both
    read the same generated credential for each direction, and deleting a credential's Secret
    rotates it: a new value, and a new Job on both sides."""
    ns = "gm0363-amsterdam"
    jobs = {c: _configuration_job(cluster, c) for c in ("open-zaak", "open-notificaties")}
    assert all(jobs.values()), jobs
    secret = "open-zaak-to-open-notificaties-credentials"  # noqa: S105 - a Secret name
    for component, job in jobs.items():
        spec = _json(cluster, "job", str(job), "-n", ns)["spec"]["template"]["spec"]
        read = {
            e["valueFrom"]["secretKeyRef"]["name"]
            for e in spec["containers"][0]["env"]
            if "secretKeyRef" in e.get("valueFrom", {})
        }
        assert {secret, "open-notificaties-to-open-zaak-credentials"} <= read, component
        config = _json(cluster, "configmap", f"{component}-configuration", "-n", ns)
        assert "value_from" in config["data"]["configuration.yaml"]
    before = _json(cluster, "secret", secret, "-n", ns)
    cluster.kubectl("delete", "secret", secret, "-n", ns)

    def rotated() -> dict[str, Any] | None:
        found = get_json(cluster, "secret", secret, "-n", ns)
        return found if found and found["metadata"]["uid"] != before["metadata"]["uid"] else None

    after = wait_for("the credential made anew", rotated, timeout=120)
    assert after["data"]["secret"] != before["data"]["secret"]

    def reconfigured() -> dict[str, str | None] | None:
        now = {c: _configuration_job(cluster, c) for c in jobs}
        changed = all(now[c] and now[c] != jobs[c] for c in jobs)
        return now if changed else None

    wait_for("both sides configured again with the new credential", reconfigured, timeout=180)
    for job in jobs.values():
        wait_for(
            f"the old Job {job} pruned",
            lambda job=job: get_json(cluster, "job", str(job), "-n", ns) == {} or None,
            timeout=60,
        )


def _secrets_read(cluster: Cluster, namespace: str, job: str) -> set[str]:
    spec = _json(cluster, "job", job, "-n", namespace)["spec"]["template"]["spec"]
    return {
        e["valueFrom"]["secretKeyRef"]["name"]
        for e in spec["containers"][0]["env"]
        if "secretKeyRef" in e.get("valueFrom", {})
    }


def test_open_formulieren_is_configured_with_what_the_apis_it_registers_to_accept(
    cluster: Cluster, converged: OperatorProcess
) -> None:
    """Amsterdam runs Open Formulieren with Open Zaak, Objecten and Objecttypen: each of the
    four ran a configuration Job, and for each API Open Formulieren calls, its Job and the
    called app's Job read the same credential Secret."""
    ns = "gm0363-amsterdam"
    servers = ("open-zaak", "objecten", "objecttypen")
    components = ("open-formulieren", *servers)

    def configured() -> dict[str, str | None] | None:
        found = {c: _configuration_job(cluster, c) for c in components}
        return found if all(found.values()) else None

    jobs = wait_for("the four configured", configured, timeout=120)
    forms_reads = _secrets_read(cluster, ns, str(jobs["open-formulieren"]))
    for server in servers:
        pair = f"open-formulieren-to-{server}-credentials"
        assert pair in forms_reads, server
        assert pair in _secrets_read(cluster, ns, str(jobs[server])), server
    # No secret in the ConfigMap: Open Formulieren's YAML names the variables envsubst fills.
    data = _json(cluster, "configmap", "open-formulieren-configuration", "-n", ns)["data"]
    assert "${OPEN_FORMULIEREN_TO_OPEN_ZAAK}" in data["configuration.yaml"]
    for server in servers:
        stored = _json(cluster, "secret", f"open-formulieren-to-{server}-credentials", "-n", ns)
        value = base64.b64decode(stored["data"]["secret"]).decode()
        assert value not in data["configuration.yaml"]


def test_the_apps_admins_log_in_through_the_municipalitys_keycloak(
    cluster: Cluster, converged: OperatorProcess
) -> None:
    """Amsterdam runs Keycloak and exposes it: keycloak-config-cli made a client for each
    exposed app that logs in through it, returning to that app's public callback, and the app
    and Keycloak read the same credential Secret; neither ConfigMap holds its value."""
    ns = "gm0363-amsterdam"
    apps = ("open-zaak", "open-notificaties", "objecten", "objecttypen", "open-formulieren")
    installed = {
        app: cgi
        for app in apps
        if (cgi := get_json(cluster, "cgi", app, "-n", ns)) and cgi["spec"].get("host")
    }
    assert installed, "Amsterdam exposes apps that log in through Keycloak"

    def configured() -> dict[str, str | None] | None:
        found = {c: _configuration_job(cluster, c) for c in ("keycloak", *installed)}
        return found if all(found.values()) else None

    jobs = wait_for("Keycloak and the apps configured", configured, timeout=120)
    keycloak_job = _json(cluster, "job", str(jobs["keycloak"]), "-n", ns)
    (container,) = keycloak_job["spec"]["template"]["spec"]["containers"]
    assert container["image"].startswith("adorsys/keycloak-config-cli:")
    realm = yaml.safe_load(
        _json(cluster, "configmap", "keycloak-configuration", "-n", ns)["data"][
            "configuration.yaml"
        ]
    )
    clients = {c["clientId"]: c for c in realm["clients"]}
    assert set(clients) == set(installed)
    for app, cgi in installed.items():
        assert clients[app]["redirectUris"][0].startswith(f"https://{cgi['spec']['host']}/")
        pair = f"{app}-to-keycloak-credentials"
        assert pair in _secrets_read(cluster, ns, str(jobs[app])), app
        assert pair in _secrets_read(cluster, ns, str(jobs["keycloak"])), app
        value = base64.b64decode(_json(cluster, "secret", pair, "-n", ns)["data"]["secret"])
        for holder in (app, "keycloak"):
            data = _json(cluster, "configmap", f"{holder}-configuration", "-n", ns)["data"]
            assert value.decode() not in data["configuration.yaml"], (app, holder)


def _metric(page: str, name: str, resource: str) -> float:
    match = re.search(rf'^{name}{{resource="{resource}"}} (\S+)$', page, re.M)
    return float(match.group(1)) if match else 0.0


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for process {pid}")


def test_objects_labelled_as_ours_outside_tenant_namespaces_are_not_kept(
    cluster: Cluster, converged: OperatorProcess, namespace: str
) -> None:
    """Labels are anyone's to set: ConfigMaps labelled managed-by=cg-operator in a namespace no
    tenant owns reach the operator's watch but never its memory."""
    before = converged.metrics()
    cached = _metric(before, "cg_operator_cached_objects", "configmaps")
    seen = _metric(before, "cg_watch_events_total", "configmaps")
    rss = _rss_mib(converged.process.pid)
    assert cached > 0, "the example tenants' ConfigMaps are held"
    strangers = 20
    for i in range(strangers):
        # created, not applied: kubectl apply would copy the data into an annotation
        cluster.kubectl(
            "create",
            "-f",
            "-",
            input_text=json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {
                        "name": f"stranger-{i}",
                        "namespace": namespace,
                        "labels": {
                            "app.kubernetes.io/managed-by": "cg-operator",
                            "appstore.commonground.nl/tenant": "amsterdam",
                        },
                    },
                    "data": {"blob": f"{i:04d}" * 128 * 1024},  # 512 KiB each
                }
            ),
        )
    wait_for(
        "the operator's watch to see the strangers' ConfigMaps",
        lambda: (
            _metric(converged.metrics(), "cg_watch_events_total", "configmaps") >= seen + strangers
        ),
        timeout=60,
    )
    after = converged.metrics()
    print(
        f"\n{strangers} x 512 KiB ConfigMaps outside tenant namespaces: RSS {rss:.0f} -> "
        f"{_rss_mib(converged.process.pid):.0f} MiB, cached ConfigMaps {cached:.0f} -> "
        f"{_metric(after, 'cg_operator_cached_objects', 'configmaps'):.0f}"
    )
    # Other passes may still add or drop one of the examples' ConfigMaps meanwhile; held,
    # the strangers would add all of theirs.
    assert _metric(after, "cg_operator_cached_objects", "configmaps") < cached + strangers


def _at_rest(cluster: Cluster, proc: OperatorProcess) -> bool:
    """No rollout moving a tenant or about to end a bake, and the operator's queue empty."""
    return rollouts_at_rest(cluster) and "\ncg_workqueue_depth 0.0\n" in proc.metrics()


def test_a_restart_and_an_idle_period_make_no_writes(
    cluster: Cluster, converged: OperatorProcess, tmp_path: Path
) -> None:
    """After a restart the operator re-reads everything, reconciles every object once, and
    finds nothing to change: zero writes, then and during the idle minute after."""
    # Converged means at rest: the example rollout moves its koplopers one at a time after the
    # tenants are Ready, and a pass still queued when the operator stops is work, not a restart's.
    wait_for(
        "the rollout at rest and the work queue empty",
        lambda: _at_rest(cluster, converged),
        timeout=CONVERGE_TIMEOUT,
        interval=1,
    )
    window = WriteWindow(cluster)
    # The probe's status refresh (lastProbe rewritten every 10 minutes even when unchanged) is a
    # heartbeat on its own schedule, not the restart's doing: an installation applied by an
    # earlier module may be due for it in this window. The same process object is restarted in
    # place, so the module's later tests have an operator again.
    converged.restart(tmp_path / "restarted.log", args=["--probe-status-refresh", "86400"])
    wait_for(
        "the restarted operator to work through every object",
        lambda: "work queue idle" in converged.log(),
        timeout=120,
    )
    passes = converged.log().split("work queue idle after ")[1].split()[0]
    print(f"\nrestart: {passes} reconcile passes, writes: {window.writes()}")
    assert int(passes) >= 40, "every installation and tenant was reconciled"
    assert window.writes() == {}
    # An observation window, not a wait: nothing may be written while nothing changes.
    time.sleep(15)
    assert window.writes() == {}


def test_a_dependency_that_upgrades_keeps_its_dependents_ready(
    cluster: Cluster, converged: OperatorProcess
) -> None:
    """Groningen (a volger, outside the example rollout's first wave) pins Open Zaak to the
    next version: Open Zaak goes through Progressing and its configuration Job to Ready at
    1.30.0, while Open Archiefbeheer and Open Formulieren, which require it, never leave Ready:
    its previous pods serve throughout a rolling update."""
    ns = "gm0014-groningen"
    dependents = ("open-archiefbeheer", "open-formulieren")
    zaak = _json(cluster, "cgi", "open-zaak", "-n", ns)
    assert zaak["status"]["observedVersion"] == "1.29.1"
    before = {
        name: _condition(_json(cluster, "cgi", name, "-n", ns), "Ready") for name in dependents
    }
    assert all(c["status"] == "True" for c in before.values()), before
    tenant = _json(cluster, "municipalitytenant", ns)
    (index,) = [i for i, s in enumerate(tenant["spec"]["components"]) if s["name"] == "open-zaak"]
    patch = [{"op": "add", "path": f"/spec/components/{index}/version", "value": "1.30.0"}]
    cluster.kubectl("patch", "municipalitytenant", ns, "--type", "json", "-p", json.dumps(patch))

    def upgraded() -> bool | None:
        cgi = _json(cluster, "cgi", "open-zaak", "-n", ns)
        status = cgi.get("status") or {}
        return (
            status.get("observedVersion") == "1.30.0"
            and _condition(cgi, "Ready").get("status") == "True"
        ) or None

    wait_for("Groningen's Open Zaak Ready at 1.30.0", upgraded, timeout=180)
    # Posted with the write that reports the new version, whether or not Ready=False was
    # stored on the way (a change done within the status window writes once).
    events = _json(
        cluster,
        "events",
        "-n",
        ns,
        "--field-selector",
        "involvedObject.kind=ComponentInstallation,involvedObject.name=open-zaak,reason=Upgraded",
    )["items"]
    assert len(events) == 1, [e["message"] for e in events]
    assert events[0]["message"].startswith("upgraded 1.29.1 -> 1.30.0"), events[0]["message"]
    after = {
        name: _condition(_json(cluster, "cgi", name, "-n", ns), "Ready") for name in dependents
    }
    for name in dependents:
        assert after[name]["status"] == "True", (name, after[name])
        assert after[name]["lastTransitionTime"] == before[name]["lastTransitionTime"], name


def test_zac_calls_what_it_requires_with_credentials_both_sides_hold(
    cluster: Cluster, converged: OperatorProcess
) -> None:
    """Rotterdam runs ZAC without handing over a single credential: ZAC's pods read a generated
    Secret per component it calls (and the one Open Notificaties calls it with), and each of
    those components' configuration Jobs reads the same Secret; no value is in a ConfigMap or
    in ZAC's pod spec."""
    ns = "gm0599-rotterdam"
    pairs = {
        "ZGW_API_SECRET": ("zac-to-open-zaak-credentials", "open-zaak"),
        "OBJECTS_API_TOKEN": ("zac-to-objecten-credentials", "objecten"),
        "KLANTINTERACTIES_API_TOKEN": ("zac-to-open-klant-credentials", "open-klant"),
        "OPEN_NOTIFICATIONS_API_SECRET_KEY": (
            "open-notificaties-to-zac-credentials",
            "open-notificaties",
        ),
        "AUTH_SECRET": ("zac-to-keycloak-credentials", "keycloak"),
    }

    def configured() -> dict[str, str] | None:
        jobs = {}
        for secret, side in pairs.values():
            job = _configuration_job(cluster, side, ns)
            if not job or secret not in _secrets_read(cluster, ns, job):
                return None
            jobs[side] = job
        return jobs

    wait_for("the components ZAC calls configured for it", configured, timeout=180)
    web = _json(cluster, "deployment", "zac", "-n", ns)
    (container,) = web["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    spec_text = json.dumps(web)
    for variable, (secret, side) in pairs.items():
        assert env[variable]["valueFrom"]["secretKeyRef"]["name"] == secret, variable
        value = base64.b64decode(_json(cluster, "secret", secret, "-n", ns)["data"]["secret"])
        assert value.decode() not in spec_text
        for holder in ("zac-config", f"{side}-configuration"):
            data = _json(cluster, "configmap", holder, "-n", ns)["data"]
            assert value.decode() not in json.dumps(data), (variable, holder)
    zac = get_json(cluster, "cgi", "zac", "-n", ns)
    assert zac is not None
    assert zac["spec"]["host"] == "zac.rotterdam.example"

    # Rotating ZAC's Open Zaak secret (deleting it) replaces ZAC's pods, which read it only at
    # start, and configures Open Zaak again with the new value.
    secret = "zac-to-open-zaak-credentials"  # noqa: S105 - a Secret name
    before = _json(cluster, "secret", secret, "-n", ns)["metadata"]["uid"]
    hash_before = _pod_config_hash(cluster, ns, "zac")
    job_before = _configuration_job(cluster, "open-zaak", ns)
    cluster.kubectl("delete", "secret", secret, "-n", ns)

    def made_anew() -> bool | None:
        found = get_json(cluster, "secret", secret, "-n", ns)
        return (bool(found) and found["metadata"]["uid"] != before) or None

    def zac_replaced() -> bool | None:
        return _pod_config_hash(cluster, ns, "zac") != hash_before or None

    def open_zaak_configured_again() -> str | None:
        job = _configuration_job(cluster, "open-zaak", ns)
        return job if job not in (None, job_before) else None

    wait_for(f"the tenant to make {secret} anew", made_anew, timeout=60)
    wait_for("ZAC's pods to be replaced", zac_replaced, timeout=120)
    wait_for("Open Zaak configured with the new secret", open_zaak_configured_again, timeout=180)
    for component in ("zac", "open-zaak"):
        wait_for(f"{component} Ready again", _ready_check(cluster, ns, component), timeout=120)
    # Replacing the pods for a rotated credential is a change moving through, not an outage.
    unhealthy = _json(
        cluster,
        "events",
        "-n",
        ns,
        "--field-selector",
        "involvedObject.kind=ComponentInstallation,involvedObject.name=zac,reason=Unhealthy",
    )
    assert unhealthy["items"] == []


def _ready_check(cluster: Cluster, namespace: str, component: str) -> Callable[[], bool | None]:
    def ready() -> bool | None:
        cgi = _json(cluster, "cgi", component, "-n", namespace)
        return _condition(cgi, "Ready").get("status") == "True" or None

    return ready


def _pod_config_hash(cluster: Cluster, namespace: str, deployment: str) -> str:
    template = _json(cluster, "deployment", deployment, "-n", namespace)["spec"]["template"]
    return str(template["metadata"]["annotations"][ANNOTATION_CONFIG_HASH])


def test_kiss_logs_in_at_the_public_realm_and_reads_tokens_the_apis_were_given(
    cluster: Cluster, converged: OperatorProcess
) -> None:
    """Utrecht's KISS sends employees to Keycloak's public realm (an https issuer, as ASP.NET
    requires) and calls Objecten and Open Klant with the tokens their Jobs configured."""
    ns = "gm0344-utrecht"
    keycloak = get_json(cluster, "cgi", "keycloak", "-n", ns)
    assert keycloak is not None
    tokens = {
        "AFDELINGEN_TOKEN": ("kiss-to-objecten-credentials", "objecten"),
        "REGISTERS__0__KLANTINTERACTIE_TOKEN": ("kiss-to-open-klant-credentials", "open-klant"),
        "OIDC_CLIENT_SECRET": ("kiss-to-keycloak-credentials", "keycloak"),
    }

    def configured() -> bool | None:
        for secret, side in tokens.values():
            job = _configuration_job(cluster, side, ns)
            if not job or secret not in _secrets_read(cluster, ns, job):
                return None
        return True

    wait_for("Objecten, Open Klant and Keycloak configured for KISS", configured, timeout=180)
    (container,) = _json(cluster, "deployment", "kiss", "-n", ns)["spec"]["template"]["spec"][
        "containers"
    ]
    env = {e["name"]: e for e in container["env"]}
    realm = f"https://{keycloak['spec']['host']}/realms/medewerkers"
    assert env["OIDC_AUTHORITY"]["value"] == realm
    for variable, (secret, _side) in tokens.items():
        assert env[variable]["valueFrom"]["secretKeyRef"]["name"] == secret, variable
