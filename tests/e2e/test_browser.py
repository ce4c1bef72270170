"""The App Store page in a real headless Chromium (Debian's chromium and chromedriver, driven by
Selenium): open the catalogue, filter it, open Open Zaak's page, subscribe a municipality
through the form and see its installation become Ready, approve a rollout's wave; every page
checked with axe-core (WCAG 2.1 A and AA) for serious or critical violations, and a
screenshot of each saved under .local/screenshots/.

The page runs with `--kubeconfig-user` (one person's own use, as under `make run`). The
page served by the operator installed in the cluster, reached with a bearer token as an
authenticating proxy forwards it, is opened in tests/realnode/test_operator_in_cluster.py; what
each identity may do is tests/integration/test_appstore_page.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.select import Select

from tests.integration.conftest import OperatorProcess
from tests.support.appstore import approval_rollout, make_tenant, page_process
from tests.support.browser import accessible, chromium
from tests.support.cluster import REPO, Cluster, condition, get_json, wait_for

TENANT, COMPONENT = "t-browser-zwolle", "objecttypen"
ROLLOUT = "t-browser-objecttypen"
TIMEOUT = 180


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    with chromium() as driver:
        yield driver


@pytest.fixture(scope="module")
def site(
    cluster: Cluster, module_operator: OperatorProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    cluster.kubectl(
        "apply", "--server-side", "--force-conflicts", "-f", str(REPO / "examples" / "catalog")
    )
    cluster.apply(make_tenant(TENANT, "koploper", "GM0193"))
    with page_process(
        cluster, tmp_path_factory.mktemp("page") / "page.log", "--kubeconfig-user"
    ) as base:
        yield base
    cluster.kubectl("delete", "cgr", ROLLOUT, "--ignore-not-found")
    cluster.kubectl("delete", "mt", TENANT, "--ignore-not-found", "--timeout=120s")


def cards(driver: WebDriver) -> int:
    return len(driver.find_elements(By.CSS_SELECTOR, "#cards .appstore-card"))


def test_a_person_uses_the_app_store_in_a_browser(
    cluster: Cluster, site: str, browser: WebDriver
) -> None:
    browser.set_script_timeout(30)
    browser.get(site + "/")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Catalogus"
    every = cards(browser)
    assert every >= 15
    accessible(browser, "catalogue")

    # Filtering swaps the cards in place (htmx) and keeps the filter in the address.
    Select(browser.find_element(By.ID, "f-delivery")).select_by_value("SaaS")
    wait_for("fewer cards", lambda: 0 < cards(browser) < every or None, timeout=10)
    assert "delivery=SaaS" in browser.current_url
    Select(browser.find_element(By.ID, "f-delivery")).select_by_value("")
    wait_for("every card again", lambda: cards(browser) == every or None, timeout=10)

    browser.find_element(By.LINK_TEXT, "Open Zaak").click()
    wait_for(
        "Open Zaak's page",
        lambda: browser.find_element(By.TAG_NAME, "h1").text == "Open Zaak" or None,
        timeout=10,
    )
    assert "1.30.0" in browser.page_source
    accessible(browser, "open-zaak")

    # Subscribe the municipality through the form; its installation appears and becomes Ready.
    browser.get(f"{site}/tenants/{TENANT}")
    Select(browser.find_element(By.ID, "s-component")).select_by_value(COMPONENT)
    browser.find_element(By.ID, "s-offering").send_keys("container")
    browser.find_element(By.CSS_SELECTOR, "form[action$='/subscribe'] button[type=submit]").click()
    wait_for("the confirmation", lambda: "Gelukt" in browser.page_source or None, timeout=10)

    def ready() -> bool | None:
        browser.refresh()
        cells = browser.find_elements(
            By.CSS_SELECTOR, f"tr[data-component='{COMPONENT}'] td[data-ready]"
        )
        return (bool(cells) and cells[0].get_attribute("data-ready") == "True") or None

    wait_for("the installation Ready on the municipality page", ready, timeout=TIMEOUT)
    accessible(browser, "municipality")

    # A rollout whose only wave waits for approval: approved on its page, then Complete.
    running = get_json(cluster, "cgi", COMPONENT, "-n", TENANT)["status"]["observedVersion"]
    entry = get_json(cluster, "cgc", COMPONENT)
    target = next(v["version"] for v in entry["spec"]["versions"] if v["version"] != running)
    tenant_label = {"appstore.commonground.nl/tenant": TENANT}
    cluster.apply(approval_rollout(ROLLOUT, COMPONENT, target, tenant_label))
    browser.get(f"{site}/rollouts/{ROLLOUT}")
    button = wait_for(
        "the approval button",
        lambda: (
            browser.find_elements(By.CSS_SELECTOR, "form[action$='/approve-wave'] button") or None
        ),
        timeout=30,
    )
    accessible(browser, "rollout")
    button[0].click()
    wait_for(
        "the rollout Complete",
        lambda: (
            condition(get_json(cluster, "cgr", ROLLOUT), "Complete").get("status") == "True" or None
        ),
        timeout=TIMEOUT,
    )
    browser.get(f"{site}/rollouts/{ROLLOUT}")
    phase = browser.find_element(By.ID, "phase")
    assert phase.get_attribute("data-phase") == "Complete"
    assert "Voltooid" in phase.text  # the page speaks Dutch by default
    browser.get(f"{site}/fleet")
    accessible(browser, "fleet")
