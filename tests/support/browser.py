"""A real headless Chromium for the page's tests (Debian's chromium and chromedriver, driven by
Selenium), and the accessibility check every page gets: axe-core (vendored under tests/e2e)
with WCAG 2.1 A and AA rules, plus a screenshot under .local/screenshots/."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

from tests.support.cluster import REPO

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
AXE = (REPO / "tests" / "e2e" / "vendor" / "axe.min.js").read_text()
# axe-core's WCAG 2.1 A and AA rules; the violations as JSON (an error in axe is one too).
AXE_RUN = """
const done = arguments[arguments.length - 1];
const rules = {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}};
axe.run(document, rules)
  .then((result) => done(JSON.stringify(result.violations)))
  .catch((error) => done(JSON.stringify([{id: "axe", impact: "critical", help: String(error)}])));
"""
SHOTS = REPO / ".local" / "screenshots"


@contextmanager
def chromium() -> Iterator[WebDriver]:
    """A headless Chromium, quit and its profile removed afterwards."""
    for binary in (CHROMIUM, CHROMEDRIVER):
        if not Path(binary).exists():
            pytest.fail(f"{binary} is missing: `make browser` installs chromium and its driver")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="cg-browser-")
    # As the machine's own probe starts it: no sandbox as root, and nothing that phones home.
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,1000",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def accessible(driver: WebDriver, name: str) -> None:
    """No serious or critical WCAG 2.1 A/AA violation on the page as it is now (axe-core), and
    a screenshot of it."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SHOTS / f"{name}.png"))
    driver.execute_script(AXE)
    result = driver.execute_async_script(AXE_RUN)
    bad = [v for v in json.loads(result) if v.get("impact") in ("serious", "critical")]
    assert not bad, f"{name}: " + "; ".join(
        f"{v['id']}: {v['help']} ({', '.join(n['target'][0] for n in v.get('nodes', [])[:3])})"
        for v in bad
    )
