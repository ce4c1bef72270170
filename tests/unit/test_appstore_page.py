"""The App Store page against an in-memory API (tests/support/fake_store.py): what each page
shows, what each form changes, and that the page refuses what it must: a form without its
CSRF token, a request without an identity, and what RBAC does not allow, named."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from html import unescape
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from cg_operator.appstore.kube import ForbiddenError
from cg_operator.appstore.web import PageSettings, build_app
from tests.support.fake_store import ALL_VERBS, FakeStore, installation, with_adoption

REPO = Path(__file__).resolve().parents[2]
CATALOGUE = [
    yaml.safe_load(p.read_text()) for p in sorted((REPO / "examples" / "catalog").glob("*.yaml"))
]


def tenant(name: str, ring: str, *components: str, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "resourceVersion": "1",
            "labels": {"appstore.commonground.nl/ring": ring},
        },
        "spec": {
            "municipality": {"name": name.split("-", 1)[1].title(), "code": name[:6].upper()},
            "ring": ring,
            "components": [{"name": c, "offering": "container"} for c in components],
            **spec,
        },
        "status": {"namespace": name},
    }


ROLLOUT = {
    "metadata": {"name": "open-zaak-1-30", "resourceVersion": "5"},
    "spec": {
        "component": "open-zaak",
        "version": "1.30.0",
        "waves": [
            {"name": "koplopers", "tenantSelector": {}, "bakeTime": "1h"},
            {"name": "volgers", "tenantSelector": {}, "requireApproval": True},
        ],
    },
    "status": {
        "currentWave": "volgers",
        "waves": [{"name": "koplopers", "tenants": 1, "updated": 1, "ready": 1}],
        "tenants": [
            {
                "name": "gm0599-rotterdam",
                "wave": "volgers",
                "state": "WaitingForApproval",
                "reason": "upgradePolicy Approve",
            }
        ],
        "conditions": [
            {"type": "Progressing", "status": "True", "message": "wave volgers in progress"}
        ],
    },
}


def objects() -> dict[str, list[dict[str, Any]]]:
    return with_adoption(
        {
            "cgcomponents": CATALOGUE,
            "municipalitytenants": [
                tenant("gm0363-amsterdam", "koploper", "open-zaak", "objecten"),
                tenant("gm0599-rotterdam", "volger", "open-zaak", deletionPolicy="Delete"),
            ],
            "componentinstallations": [
                installation("open-zaak", "gm0363-amsterdam", "1.30.0", ring="koploper"),
                installation(
                    "objecten", "gm0363-amsterdam", "3.6.1", ready="False", ring="koploper"
                ),
                installation("open-zaak", "gm0599-rotterdam", "1.29.1"),
            ],
            "componentrollouts": [ROLLOUT],
            "resourcequotas": [
                {
                    "metadata": {"name": "q", "namespace": "gm0363-amsterdam"},
                    "status": {"hard": {"limits.cpu": "8"}, "used": {"limits.cpu": "3500m"}},
                }
            ],
        }
    )


class One:
    """Every request acts as the same person (a store), or as nobody (None)."""

    def __init__(self, store: FakeStore | None) -> None:
        self._store = store

    def store(self, _request: web.Request) -> FakeStore | None:
        return self._store


def run(store: FakeStore | None, body: Callable[[TestClient], Awaitable[None]]) -> None:
    async def main() -> None:
        app = build_app(PageSettings(secure_cookies=False), identities=One(store))
        async with TestClient(TestServer(app)) as client:
            await body(client)

    asyncio.run(main())


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the form carries a CSRF token"
    return found.group(1)


def test_the_catalogue_filters_and_searches_on_the_server() -> None:
    async def body(client: TestClient) -> None:
        every = await (await client.get("/")).text()
        assert every.count('class="appstore-card"') == len(CATALOGUE)
        saas = await (await client.get("/", params={"delivery": "SaaS"})).text()
        assert 0 < saas.count('class="appstore-card"') < len(CATALOGUE)
        found = await (await client.get("/", params={"q": "zaak"})).text()
        assert "/components/open-zaak" in found
        assert "/components/keycloak" not in found
        # htmx asks for the cards only.
        partial = await (
            await client.get("/", params={"q": "zaak"}, headers={"HX-Request": "true"})
        ).text()
        assert "<html" not in partial
        assert "/components/open-zaak" in partial

    run(FakeStore(objects()), body)


def test_every_page_is_strict_about_what_runs_in_the_browser() -> None:
    async def body(client: TestClient) -> None:
        for path in (
            "/",
            "/components/open-zaak",
            "/tenants",
            "/tenants/gm0363-amsterdam",
            "/rollouts",
            "/rollouts/open-zaak-1-30",
            "/fleet",
        ):
            response = await client.get(path)
            assert response.status == 200, path
            html = await response.text()
            assert "script-src 'self'" in response.headers["Content-Security-Policy"]
            assert re.search(r"<script(?![^>]*\bsrc=)", html) is None, f"inline script on {path}"
            assert " style=" not in html, f"inline style on {path}"
            assert 'lang="nl"' in html
            assert '<main id="main"' in html

    run(FakeStore(objects()), body)


def test_a_component_shows_its_versions_and_its_fleet_by_ring() -> None:
    async def body(client: TestClient) -> None:
        html = await (await client.get("/components/open-zaak")).text()
        assert "1.30.0" in html
        assert "1.29.1" in html
        assert "Ring: koploper" in html
        assert "/tenants/gm0599-rotterdam" in html

    run(FakeStore(objects()), body)


def test_a_municipality_that_may_not_list_others_sees_the_component_without_the_fleet() -> None:
    allowed = {("get", "cgcomponents"), ("list", "cgcomponents")}

    async def body(client: TestClient) -> None:
        response = await client.get("/components/open-zaak")
        assert response.status == 200
        assert "welke gemeenten" in await response.text()

    run(FakeStore(objects(), allowed), body)


def test_the_fleet_view_reads_only_the_catalogue_and_shows_its_counts_by_ring() -> None:
    # Listing installations or tenants is refused: the counts come from the catalogue status
    # the operator keeps, so the view reads a few dozen objects at national scale.
    allowed = {("get", "cgcomponents"), ("list", "cgcomponents")}

    async def body(client: TestClient) -> None:
        response = await client.get("/fleet")
        assert response.status == 200
        html = await response.text()
        rows = re.findall(r"<tr class=\"utrecht-table__row\">(.*?)</tr>", html, re.S)
        open_zaak = next(r for r in rows if "/components/open-zaak" in r)
        cells = re.findall(r'<td class="utrecht-table__cell">(.*?)</td>', open_zaak, re.S)
        # koploper, volger (ring order), Ready, and Rotterdam's upgrade to the recommended 1.30.0
        assert cells == [
            "1.30.0 \N{MULTIPLICATION SIGN} 1",
            "1.29.1 \N{MULTIPLICATION SIGN} 1",
            "2/3",
            "1",
        ]

    recommending_the_newest = objects()
    # A third municipality subscribed whose installation reports no version yet: not Ready.
    recommending_the_newest["componentinstallations"].append(
        {"metadata": {"name": "new"}, "spec": {"component": "open-zaak", "tenant": "t-new"}}
    )
    recommending_the_newest = with_adoption(recommending_the_newest)
    entry = next(
        c for c in recommending_the_newest["cgcomponents"] if c["metadata"]["name"] == "open-zaak"
    )
    entry["spec"]["defaultVersion"] = "1.30.0"
    run(FakeStore(recommending_the_newest, allowed), body)


def test_a_municipality_page_says_why_and_what_waits_for_it() -> None:
    async def body(client: TestClient) -> None:
        html = await (await client.get("/tenants/gm0363-amsterdam")).text()
        # The reason in the page's language (its code kept for scripts), the operator's own
        # English message marked as English for screen readers (WCAG 3.1.2).
        assert (
            '<td class="utrecht-table__cell" data-reason="ConfigurationFailed">Inrichting mislukt:'
            ' <span lang="en">the configuration Job failed</span>'
        ) in html
        english = await (await client.get("/tenants/gm0363-amsterdam?lang=en")).text()
        assert "Configuration failed: <span>the configuration Job failed</span>" in english
        assert "limits.cpu" in html
        assert "3500m" in html
        rotterdam = await (await client.get("/tenants/gm0599-rotterdam")).text()
        assert 'action="/tenants/gm0599-rotterdam/approve"' in rotterdam
        # 1.29.1 runs where the catalogue recommends newer.
        assert re.search(r"1\.29\.1.*?</td>", rotterdam, re.S)

    run(FakeStore(objects()), body)


def test_subscribing_needs_the_forms_csrf_token_and_then_changes_the_tenant() -> None:
    store = FakeStore(objects())

    async def body(client: TestClient) -> None:
        page = await (await client.get("/tenants/gm0599-rotterdam")).text()
        form = {
            "component": "objecten",
            "offering": "container",
            "version": "",
            "values": "LOG_LEVEL=INFO",
        }
        refused = await client.post("/tenants/gm0599-rotterdam/subscribe", data=form)
        assert refused.status == 403
        assert store.patches == []
        done = await client.post(
            "/tenants/gm0599-rotterdam/subscribe",
            data={**form, "csrf": csrf_of(page)},
            allow_redirects=False,
        )
        assert done.status == 303
        assert done.headers["Location"] == "/tenants/gm0599-rotterdam"
        # The page it leads to says what was done, once: a reload does not repeat it.
        shown = await (await client.get("/tenants/gm0599-rotterdam")).text()
        assert "gm0599-rotterdam subscribes to objecten" in shown
        again = await (await client.get("/tenants/gm0599-rotterdam")).text()
        assert "subscribes to objecten" not in again
        subscribed = store.objects["municipalitytenants"]["gm0599-rotterdam"]["spec"]["components"]
        assert subscribed[-1] == {
            "name": "objecten",
            "offering": "container",
            "values": {"LOG_LEVEL": "INFO"},
        }
        cross = await client.post(
            "/tenants/gm0599-rotterdam/subscribe",
            data={**form, "csrf": csrf_of(page)},
            headers={"Origin": "https://evil.example"},
        )
        assert cross.status == 403

    run(store, body)


def test_unsubscribing_is_confirmed_and_says_what_the_deletion_policy_keeps() -> None:
    store = FakeStore(objects())

    async def body(client: TestClient) -> None:
        confirm = await (
            await client.get(
                "/tenants/gm0363-amsterdam/unsubscribe", params={"component": "objecten"}
            )
        ).text()
        assert "deletionPolicy Retain" in confirm
        assert store.patches == []
        done = await client.post(
            "/tenants/gm0363-amsterdam/unsubscribe",
            data={"component": "objecten", "csrf": csrf_of(confirm)},
            allow_redirects=False,
        )
        assert done.status == 303
        names = [
            c["name"]
            for c in store.objects["municipalitytenants"]["gm0363-amsterdam"]["spec"]["components"]
        ]
        assert names == ["open-zaak"]

    run(store, body)


def test_what_rbac_refuses_is_a_page_naming_the_missing_permission() -> None:
    allowed = {(verb, plural) for verb in ("get", "list") for plural in objects()}

    async def body(client: TestClient) -> None:
        page = await (await client.get("/rollouts/open-zaak-1-30")).text()
        refused = await client.post(
            "/rollouts/open-zaak-1-30/approve-wave", data={"wave": "volgers", "csrf": csrf_of(page)}
        )
        assert refused.status == 403
        html = await refused.text()
        assert "Niet toegestaan" in html
        assert 'cannot patch resource "componentrollouts"' in unescape(html)

    run(FakeStore(objects(), allowed), body)


def test_a_delivery_organisation_approves_a_wave_and_pauses() -> None:
    store = FakeStore(objects())

    async def body(client: TestClient) -> None:
        page = await (await client.get("/rollouts/open-zaak-1-30")).text()
        assert 'data-wave="volgers"' in page
        token = csrf_of(page)
        done = await client.post(
            "/rollouts/open-zaak-1-30/approve-wave",
            data={"wave": "volgers", "csrf": token},
            allow_redirects=False,
        )
        assert done.status == 303
        assert store.objects["componentrollouts"]["open-zaak-1-30"]["spec"]["approvedWaves"] == [
            "volgers"
        ]
        await client.post("/rollouts/open-zaak-1-30/pause", data={"csrf": token})
        assert store.objects["componentrollouts"]["open-zaak-1-30"]["spec"]["paused"] is True
        after = await (await client.get("/rollouts/open-zaak-1-30")).text()
        assert "Hervatten" in after

    run(store, body)


def test_without_an_identity_nothing_is_read() -> None:
    async def body(client: TestClient) -> None:
        response = await client.get("/tenants")
        assert response.status == 401
        assert "aanmeldproxy" in await response.text()
        assert (await client.get("/healthz")).status == 200

    run(None, body)


def test_english_on_request_and_remembered() -> None:
    async def body(client: TestClient) -> None:
        english = await client.get("/", params={"lang": "en"})
        html = await english.text()
        assert 'lang="en"' in html
        assert "Catalogue" in html
        again = await (await client.get("/fleet")).text()
        assert "Fleet" in again

    run(FakeStore(objects()), body)


def test_the_fleet_is_counted_on_the_server_and_paged() -> None:
    many = objects()

    async def body(client: TestClient) -> None:
        first = await (await client.get("/fleet")).text()
        assert "1.30.0 \N{MULTIPLICATION SIGN} 1" in first
        assert "1.29.1 \N{MULTIPLICATION SIGN} 1" in first
        assert "Pagina 1 van 1" in first

    run(FakeStore(many), body)


@pytest.mark.parametrize(
    "call",
    [
        lambda store: store.get("cgcomponents", "open-zaak"),
        lambda store: store.items("cgcomponents"),
        lambda store: store.patch("municipalitytenants", "gm0363-amsterdam", None),
    ],
    ids=sorted(ALL_VERBS),
)
def test_the_fake_refuses_what_is_not_allowed(call: Callable[[FakeStore], object]) -> None:
    store = FakeStore(objects(), allowed=set())
    with pytest.raises(ForbiddenError, match="forbidden"):
        call(store)
