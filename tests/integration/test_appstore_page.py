"""The App Store page against the real control plane, as three people: a municipality (the
chart's municipality role for its own tenant, by resourceNames, and a Role in its namespace),
a delivery organisation and the platform team (the chart's roles), each with a TokenRequest
token forwarded as an authenticating proxy would. Each sees and may do exactly what its role
allows; the page adds nothing of its own (it runs with no credentials besides theirs)."""

from __future__ import annotations

from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest

from tests.integration.conftest import OperatorProcess
from tests.support.appstore import (
    RING_LABEL,
    Person,
    approval_rollout,
    make_tenant,
    page_process,
    service_account_token,
    subject,
    user_roles,
    with_second_version,
)
from tests.support.cluster import Cluster, condition, get_json, wait_for
from tests.support.configuration import entry
from tests.support.identity import token_kubeconfig

COMPONENT, EXTRA = "page-test", "page-extra"
MINE, OTHER = "t-page-almere", "t-page-breda"
ROLLOUT = "page-test-1-1"
PEOPLE = "t-page-people"  # the namespace of the two ServiceAccounts
FULLNAME = "t-page"
TIMEOUT = 120


@pytest.fixture(scope="module")
def page(
    cluster: Cluster, module_operator: OperatorProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Person]]:
    cluster.apply(with_second_version(entry(COMPONENT)))
    cluster.apply(entry(EXTRA))
    cluster.apply(make_tenant(MINE, "koploper", "GM0751", COMPONENT))
    cluster.apply(make_tenant(OTHER, "volger", "GM0752", COMPONENT))
    wait_for(
        "both tenants' namespaces",
        lambda: (
            all(
                (get_json(cluster, "mt", t).get("status") or {}).get("namespace")
                for t in (MINE, OTHER)
            )
            or None
        ),
        timeout=TIMEOUT,
    )
    municipality = service_account_token(cluster, "municipality", PEOPLE)
    delivery = service_account_token(cluster, "delivery", PEOPLE)
    platform = service_account_token(cluster, "platform", PEOPLE)
    roles = user_roles(
        FULLNAME,
        {
            "deliveryOrganisationSubjects": [subject("delivery", PEOPLE)],
            "platformTeamSubjects": [subject("platform", PEOPLE)],
            "municipalities": [
                {"tenant": MINE, "namespace": MINE, "subjects": [subject("municipality", PEOPLE)]}
            ],
        },
    )
    for obj in roles:
        cluster.apply(obj)
    log = tmp_path_factory.mktemp("page") / "page.log"
    try:
        with page_process(cluster, log) as base:
            yield {
                "municipality": Person(base, municipality),
                "delivery": Person(base, delivery),
                "platform": Person(base, platform),
                "nobody": Person(base, None),
            }
    finally:
        for obj in reversed(roles):
            namespace = (
                ["-n", obj["metadata"]["namespace"]] if obj["metadata"].get("namespace") else []
            )
            cluster.kubectl(
                "delete",
                obj["kind"],
                obj["metadata"]["name"],
                *namespace,
                "--ignore-not-found",
                check=False,
            )
        cluster.kubectl("delete", "cgr", ROLLOUT, "--ignore-not-found")
        cluster.kubectl("delete", "mt", MINE, OTHER, "--ignore-not-found", "--timeout=90s")
        cluster.kubectl("delete", "cgc", COMPONENT, EXTRA, "--ignore-not-found")
        cluster.kubectl("delete", "namespace", PEOPLE, "--ignore-not-found", "--wait=false")


def test_without_a_token_the_page_reads_nothing(page: dict[str, Person]) -> None:
    response = page["nobody"].get(f"/tenants/{MINE}")
    assert response.status == 401
    assert MINE not in response.text.replace(f"/tenants/{MINE}", "")


def test_a_municipality_sees_its_own_tenant_and_no_other(page: dict[str, Person]) -> None:
    me = page["municipality"]
    mine = wait_for(
        "its component Ready on its page",
        lambda: (
            (
                (r := me.get(f"/tenants/{MINE}")).status == 200
                and 'data-ready="True"' in r.text
                and r
            )
            or None
        ),
        timeout=TIMEOUT,
    )
    assert f'data-component="{COMPONENT}"' in mine.text
    other = me.get(f"/tenants/{OTHER}")
    assert other.status == 403
    assert 'cannot get resource "municipalitytenants"' in unescape(other.text)
    listing = me.get("/tenants")
    assert listing.status == 403
    assert 'cannot list resource "municipalitytenants"' in unescape(listing.text)
    catalogue = me.get("/")
    assert catalogue.status == 200
    assert f"/components/{COMPONENT}" in catalogue.text
    component = me.get(f"/components/{COMPONENT}")
    assert component.status == 200
    assert OTHER not in component.text, "the fleet of other municipalities is not shown"


def test_a_municipality_subscribes_itself_and_may_not_change_what_is_the_platforms(
    cluster: Cluster, page: dict[str, Person], tmp_path: Path
) -> None:
    me = page["municipality"]
    done = me.post(
        f"/tenants/{MINE}/subscribe",
        {"component": EXTRA, "offering": "container"},
        from_page=f"/tenants/{MINE}",
    )
    assert done.status == 303, done.text[:500]
    wait_for(
        "the new installation Ready",
        lambda: (
            condition(get_json(cluster, "cgi", EXTRA, "-n", MINE), "Ready").get("status") == "True"
            or None
        ),
        timeout=TIMEOUT,
    )
    # Its role may patch its tenant; the self-service policy keeps it to its subscriptions.
    assert me.token
    kubeconfig = token_kubeconfig(cluster, me.token, tmp_path / "municipality")
    refused = cluster.kubectl(
        "patch",
        "mt",
        MINE,
        "--type=merge",
        "-p",
        '{"spec": {"ring": "volger"}}',
        "--kubeconfig",
        str(kubeconfig),
        check=False,
    )
    assert refused.returncode != 0
    assert "spec.ring" in refused.stderr
    assert "manage" in refused.stderr
    assert get_json(cluster, "mt", MINE)["spec"]["ring"] == "koploper"
    unsubscribe = me.get(f"/tenants/{MINE}/unsubscribe?component={EXTRA}")
    assert "deletionPolicy Delete" in unsubscribe.text
    gone = me.post(
        f"/tenants/{MINE}/unsubscribe",
        {"component": EXTRA},
        from_page=f"/tenants/{MINE}/unsubscribe?component={EXTRA}",
    )
    assert gone.status == 303
    wait_for(
        "the installation removed",
        lambda: get_json(cluster, "cgi", EXTRA, "-n", MINE) == {} or None,
        timeout=TIMEOUT,
    )


def test_a_delivery_organisation_steers_rollouts_and_cannot_subscribe(
    cluster: Cluster, page: dict[str, Person]
) -> None:
    them = page["delivery"]
    fleet = them.get("/fleet")
    assert fleet.status == 200
    assert f"/components/{COMPONENT}" in fleet.text
    refused = them.post(
        f"/tenants/{OTHER}/subscribe",
        {"component": EXTRA, "offering": "container"},
        from_page=f"/tenants/{OTHER}",
    )
    assert refused.status == 403
    assert 'cannot patch resource "municipalitytenants"' in unescape(refused.text)

    cluster.apply(approval_rollout(ROLLOUT, COMPONENT, "1.1.0", {RING_LABEL: "koploper"}))
    path = f"/rollouts/{ROLLOUT}"
    wait_for(
        "the approval button",
        lambda: 'action="/rollouts/page-test-1-1/approve-wave"' in them.get(path).text or None,
        timeout=TIMEOUT,
    )
    approved = them.post(f"{path}/approve-wave", {"wave": "koplopers"}, from_page=path)
    assert approved.status == 303
    wait_for(
        "the rollout Complete",
        lambda: (
            condition(get_json(cluster, "cgr", ROLLOUT), "Complete").get("status") == "True" or None
        ),
        timeout=TIMEOUT,
    )
    assert "Complete" in them.get(path).text
    # The municipality sees that its component moved.
    assert "1.1.0" in page["municipality"].get(f"/tenants/{MINE}").text


def test_a_form_without_its_csrf_token_changes_nothing(
    cluster: Cluster, page: dict[str, Person]
) -> None:
    before = get_json(cluster, "mt", MINE)["metadata"]["resourceVersion"]
    forged = page["municipality"].request(
        f"/tenants/{MINE}/subscribe", {"component": EXTRA, "offering": "container", "csrf": "guess"}
    )
    assert forged.status == 403
    assert get_json(cluster, "mt", MINE)["metadata"]["resourceVersion"] == before


def test_the_page_is_served_in_english_on_request(page: dict[str, Person]) -> None:
    english = page["municipality"].get("/?lang=en")
    assert 'lang="en"' in english.text
    assert "Catalogue" in english.text


def test_the_platform_team_changes_what_a_municipality_may_not(
    cluster: Cluster, page: dict[str, Person], tmp_path: Path
) -> None:
    """The chart's platform-team role carries the verb manage: the self-service policy lets it
    move a municipality to another ring, which the municipality's own role may not."""
    them = page["platform"]
    assert them.token
    listing = them.get("/tenants")
    assert listing.status == 200
    assert f"/tenants/{OTHER}" in listing.text
    kubeconfig = token_kubeconfig(cluster, them.token, tmp_path / "platform")
    was = get_json(cluster, "mt", OTHER)["spec"]["ring"]
    try:
        cluster.kubectl(
            "patch",
            "mt",
            OTHER,
            "--type=merge",
            "-p",
            '{"spec": {"ring": "vroege-volger"}}',
            "--kubeconfig",
            str(kubeconfig),
        )
        assert get_json(cluster, "mt", OTHER)["spec"]["ring"] == "vroege-volger"
    finally:
        cluster.kubectl(
            "patch", "mt", OTHER, "--type=merge", "-p", f'{{"spec":{{"ring":"{was}"}}}}'
        )
