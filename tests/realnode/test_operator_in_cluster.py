"""The operator installed for real: `helm install` of the chart with its defaults plus only what
the real node forces (hack/realnode/operator-values.yaml). The pod runs restricted, becomes
Ready through its own probes, reconciles from inside the cluster under the chart's RBAC, serves
/metrics, a replacement pod writes nothing on a converged fleet, and `helm uninstall` leaves the
municipalities, their installations and data in place. examples/ converges under it, and the App
Store page the chart runs beside it opens in a real browser, reached with a bearer token as an
authenticating proxy forwards it."""

from __future__ import annotations

import re
import socket
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import yaml
from selenium.webdriver.common.by import By

from tests.realnode.conftest import NODE, OPERATOR_IMAGE
from tests.support.appstore import make_tenant
from tests.support.browser import accessible, chromium
from tests.support.cluster import (
    Cluster,
    apply_examples,
    apply_tenant_secrets,
    bake_ends_soon,
    condition,
    example_tenants,
    example_tenants_ready,
    get_json,
    wait_for,
)
from tests.support.configuration import entry
from tests.support.operator_release import NAMESPACE, RELEASE, helm, install_operator

COMPONENT, TENANT = "realnode-test", "t-real-zwolle"
METRICS = "http://127.0.0.1:8081/metrics"
PAGE = "http://127.0.0.1:8090"  # the page's port on the node (the chart's, hostNetwork)
# A delivery organisation, as the chart's userRoles binds one: the page shows it what RBAC
# lets it see.
DELIVERY = "t-real-delivery"
WRITES = ("create", "patch", "update", "delete")


def metrics() -> str:
    with urllib.request.urlopen(METRICS, timeout=5) as response:
        return str(response.read().decode())


def counted(page: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in page.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def write_counters(page: str) -> list[str]:
    """The request counters of writes to anything but the operator's own Lease (renewed every
    retry period)."""
    return [
        line
        for line in page.splitlines()
        if line.startswith("cg_api_requests_total{")
        and any(f'verb="{verb}"' in line for verb in WRITES)
        and 'resource="leases"' not in line
    ]


def writes(page: str) -> float:
    """Writes to anything but the operator's own Lease."""
    return sum(float(line.rsplit(" ", 1)[1]) for line in write_counters(page))


def quiet(seconds: float = 60) -> str:
    """The metrics page once the operator is idle: its work queue empty and no write between
    two scrapes (a converged fleet gets no writes at all, so a quiet pair means converged)."""
    last: list[float] = []

    def settled() -> str | None:
        page = metrics()
        depth = sum(
            float(line.rsplit(" ", 1)[1])
            for line in page.splitlines()
            if line.startswith("cg_workqueue_depth")
        )
        now = writes(page)
        done = depth == 0 and last == [now]
        last[:] = [now]
        return page if done else None

    return wait_for("the operator idle", settled, timeout=seconds, interval=3)


def operator_pod(cluster: Cluster, name: str = "cg-operator") -> dict[str, Any] | None:
    """The chart's one live pod of the operator (or, by `name`, of the page)."""
    pods = cluster.kubectl(
        "get", "pods", "-n", NAMESPACE, "-l", f"app.kubernetes.io/name={name}", "-o", "json"
    )
    items = [
        p
        for p in yaml.safe_load(pods.stdout)["items"]
        if not p["metadata"].get("deletionTimestamp")
    ]
    return items[0] if len(items) == 1 else None


def ready(pod: dict[str, Any] | None) -> bool:
    conditions = (pod or {}).get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


@pytest.fixture(scope="module")
def installed(cluster: Cluster, crds: None, operator_image: str) -> Iterator[None]:
    for port in (8080, 8081, 8090):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                pytest.fail(f"127.0.0.1:{port} is taken: the operator pod listens there")
    install = install_operator(
        cluster,
        OPERATOR_IMAGE,
        "--set",
        "appstore.enabled=true",
        # status.lastProbe is rewritten every 10 minutes even when unchanged: a heartbeat on its
        # own schedule, which would fall due in the takeover test for installations an earlier
        # tier made, and is not the new pod's doing.
        "--set",
        "operator.probes.statusRefresh=86400",
        "--set-json",
        'userRoles.deliveryOrganisationSubjects=[{"kind":"ServiceAccount",'
        f'"name":"{DELIVERY}","namespace":"{NAMESPACE}"}}]',
    )
    assert install.returncode == 0, install.stderr
    yield
    helm(cluster, "uninstall", RELEASE, "-n", NAMESPACE, "--wait")
    cluster.kubectl("delete", "mt", TENANT, "--ignore-not-found", "--timeout=90s", check=False)
    cluster.kubectl("delete", "cgc", COMPONENT, "--ignore-not-found", check=False)
    cluster.kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)


def test_the_operator_runs_in_the_cluster_restricted_and_reconciles(
    cluster: Cluster, installed: None
) -> None:
    pod = wait_for(
        "the operator pod Ready",
        lambda: (p := operator_pod(cluster)) and ready(p) and p,
        timeout=120,
    )
    assert isinstance(pod, dict)
    assert pod["spec"]["nodeName"] == NODE
    container = pod["spec"]["containers"][0]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["spec"]["securityContext"]["runAsUser"] == 65532
    assert re.search(r"^cg_build_info\{", metrics(), re.M)

    cluster.apply(entry(COMPONENT))
    cluster.apply(make_tenant(TENANT, "volger", "GM0193", COMPONENT))
    wait_for(
        "the installation Ready, reconciled from inside the cluster",
        lambda: (
            any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in get_json(cluster, "cgi", COMPONENT, "-n", TENANT)
                .get("status", {})
                .get("conditions", [])
            )
            or None
        ),
        timeout=120,
    )
    assert writes(metrics()) > 0, "the installation was made by this operator"


def test_examples_converge_from_inside_the_cluster(cluster: Cluster, installed: None) -> None:
    apply_examples(cluster)
    apply_tenant_secrets(cluster)
    wait_for("every example tenant Ready", lambda: example_tenants_ready(cluster), timeout=420)
    installations = [
        i
        for i in get_json(cluster, "cgi", "-A")["items"]
        if i["spec"]["tenant"] in example_tenants()
    ]
    assert len(installations) >= 40
    assert all(condition(i, "Ready").get("status") == "True" for i in installations)


def test_the_page_runs_beside_it_and_opens_in_a_browser_as_a_delivery_organisation(
    cluster: Cluster, installed: None
) -> None:
    """The chart's page pod on the real node, with no credentials of its own: the browser
    sends the person's bearer token as an authenticating proxy (oauth2-proxy) would."""
    pod = wait_for(
        "the page pod Ready",
        lambda: (p := operator_pod(cluster, "cg-operator-appstore")) and ready(p) and p,
        timeout=120,
    )
    assert isinstance(pod, dict)
    assert pod["spec"]["nodeName"] == NODE
    assert pod["spec"]["automountServiceAccountToken"] is False
    cluster.kubectl("create", "serviceaccount", DELIVERY, "-n", NAMESPACE, check=False)
    token = cluster.kubectl("create", "token", DELIVERY, "-n", NAMESPACE).stdout.strip()
    with chromium() as browser:
        # Without a token the page refuses: it has no identity of its own to fall back on.
        browser.get(PAGE + "/")
        assert browser.find_element(By.TAG_NAME, "h1").text == "Aanmelden nodig"
        browser.execute_cdp_cmd("Network.enable", {})
        browser.execute_cdp_cmd(
            "Network.setExtraHTTPHeaders", {"headers": {"Authorization": f"Bearer {token}"}}
        )
        browser.set_script_timeout(30)
        browser.get(PAGE + "/")
        assert browser.find_element(By.TAG_NAME, "h1").text == "Catalogus"
        assert len(browser.find_elements(By.CSS_SELECTOR, "#cards .appstore-card")) >= 15
        accessible(browser, "in-cluster-catalogue")

        def fleet_matches() -> bool | None:
            """Open Zaak's Ready/subscribed on the fleet view as the installations say."""
            subscribed = [
                i
                for i in get_json(cluster, "cgi", "-A")["items"]
                if i["spec"]["component"] == "open-zaak"
            ]
            ready = sum(
                condition(i, "Ready").get("status") == "True"
                and bool(i.get("status", {}).get("observedVersion"))
                for i in subscribed
            )
            browser.get(PAGE + "/fleet")
            row = browser.find_element(By.XPATH, "//tr[th/a[@href='/components/open-zaak']]")
            cells = [c.text for c in row.find_elements(By.TAG_NAME, "td")]
            return (cells[-2] == f"{ready}/{len(subscribed)}" and len(subscribed) >= 5) or None

        wait_for("the fleet view counting Open Zaak's installations", fleet_matches, timeout=60)
        accessible(browser, "in-cluster-fleet")


def test_a_new_pod_takes_over_and_writes_nothing_on_a_converged_fleet(
    cluster: Cluster, installed: None
) -> None:
    before = operator_pod(cluster)
    assert before is not None
    assert ready(before)
    # Everything in the cluster converged by the first pod, and no rollout's bake ending in the
    # test (a pass that writes whoever runs then): the example rollout, applied by an earlier
    # tier, may be ending its 30 minute bake. Its koplopers may stay Updating here, their
    # probes failing by design (no cluster DNS on the node), which writes nothing.
    wait_for(
        "no rollout bake ending within the test",
        lambda: (
            not any(
                bake_ends_soon(r, timedelta(minutes=5))
                for r in get_json(cluster, "componentrollouts")["items"]
            )
        ),
        timeout=600,
        interval=3,
    )
    quiet(120)
    cluster.kubectl("delete", "pod", before["metadata"]["name"], "-n", NAMESPACE, "--wait=false")
    after = wait_for(
        "a new operator pod Ready",
        lambda: (
            (p := operator_pod(cluster))
            and p["metadata"]["uid"] != before["metadata"]["uid"]
            and ready(p)
            and p
        ),
        timeout=120,
    )
    assert isinstance(after, dict)
    # Once it has listed what it manages (the installation among it) and gone idle, it has
    # compared everything and written nothing.
    wait_for(
        "the new pod's view of the installations",
        lambda: (
            counted(metrics(), "cg_watch_events_total", resource="componentinstallations") > 0
            or None
        ),
        timeout=60,
    )
    page = quiet()
    assert writes(page) == 0, write_counters(page)
    # It leads by the chart's Lease, which the old pod gave up as it stopped.
    assert "\ncg_leader 1.0\n" in page
    (lease,) = get_json(cluster, "leases", "-n", NAMESPACE)["items"]
    assert lease["spec"]["holderIdentity"].startswith(after["metadata"]["name"] + "_")


def test_helm_uninstall_leaves_the_municipalities_and_their_data(
    cluster: Cluster, installed: None
) -> None:
    done = helm(cluster, "uninstall", RELEASE, "-n", NAMESPACE, "--wait")
    assert done.returncode == 0, done.stderr
    assert get_json(cluster, "mt", TENANT), "the tenant stays"
    assert get_json(cluster, "cgi", COMPONENT, "-n", TENANT), "its installation stays"
    assert get_json(cluster, "deployment", COMPONENT, "-n", TENANT), "and what runs it"
    assert get_json(cluster, "crd", "municipalitytenants.appstore.commonground.nl")
