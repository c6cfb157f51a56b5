"""The dashboard in headless Chromium against a live ``nbo demo``: every view loads with no console
error and no request elsewhere, shows the API's figures, and a rollback clicked in the page changes
the active version; a read key sees no admin button."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.dashboard.browser import ADMIN, FLAGS, Watch, chromium_path, served_demo

DAY = "2011-12-10"  # the sample ends on 2011-12-09: the views as of the day after
AS_OF = f"{DAY}T00:00:00Z"
VIEWS = {
    "overview": f"/dashboard?as_of={DAY}",
    "customers": f"/dashboard/customers?as_of={DAY}",
    "reach": f"/dashboard/reach?as_of={DAY}",
    "models": "/dashboard/models",
    "lookup": f"/dashboard/lookup?customer_id=12347&as_of={DAY}",
}


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with served_demo(tmp_path_factory.mktemp("demo")) as url:
        yield url


@pytest.fixture(scope="module")
def api(base: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base, headers=ADMIN, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=executable, args=FLAGS)
        yield launched
        launched.close()


def logged_in(browser: Any, base: str, key: str) -> tuple[Any, Watch]:
    """A new browser session that logged in through the login form."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    watch = Watch(base)
    watch.attach(page)
    page.goto(f"{base}/dashboard/models")
    assert page.url.startswith(f"{base}/dashboard/login?next=/dashboard/models")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/dashboard/models")
    return page, watch


def text(page: Any, selector: str) -> str:
    return str(page.locator(selector).inner_text()).strip()


def test_each_view_loads_whole_with_no_error_and_nothing_from_elsewhere(
    browser: Any, base: str, tmp_path: Path
) -> None:
    page, watch = logged_in(browser, base, "reader")
    for name, path in VIEWS.items():
        page.goto(base + path)
        page.wait_for_selector("html[data-charts=drawn]")
        drawn = page.locator("canvas[data-chart]")
        for i in range(drawn.count()):
            assert drawn.nth(i).get_attribute("data-drawn"), (name, i)  # Chart.js drew every chart
        assert page.locator("h1").count() == 1
        assert page.locator("main#main").count() == 1
        page.screenshot(path=str(tmp_path / f"{name}.png"))
    # The key never shows in an address or the page.
    assert "reader" not in page.url
    assert "reader" not in page.content().replace("Log out", "")
    assert watch.errors == []
    assert watch.external == []


def test_the_figures_shown_are_the_api_figures(browser: Any, base: str, api: httpx.Client) -> None:
    page, watch = logged_in(browser, base, "reader")
    segments = api.get("/v1/segments", params={"as_of": AS_OF}).json()
    page.goto(base + VIEWS["overview"])
    assert text(page, "#kpi-customers") == f"{segments['customers']:,}"
    assert text(page, "#kpi-revenue") == f"{segments['revenue']:,.2f}"
    active = next(m for m in api.get("/v1/models").json()["models"] if m["active"])
    assert text(page, "#kpi-version") == active["version"]
    ndcg = active["metrics"]["evaluation"]["repeat"]["ndcg"]
    assert text(page, "#quality tr[data-task=repeat] td:nth-of-type(1)") == f"{ndcg:.3f}"

    page.goto(base + VIEWS["customers"])
    for row in segments["segments"]:
        assert (
            text(page, f"#segments tr[data-segment={row['segment']}] td:nth-of-type(1)")
            == f"{row['customers']:,}"
        )
    share = segments["pareto"]["top_20_percent_revenue_share"]
    assert text(page, "#kpi-top20") == f"{100 * share:.1f} %"
    for days in (7, 14, 30):
        due = api.get("/v1/customers", params={"due_within_days": days, "as_of": AS_OF, "limit": 1000}).json()
        assert text(page, f"#due tr[data-days='{days}'] td:nth-of-type(1)") == f"{len(due['customers']):,}"

    page.goto(base + VIEWS["lookup"])
    profile = api.get("/v1/customers/12347/profile", params={"as_of": AS_OF}).json()
    assert text(page, "#p-segment") == profile["segment"]
    assert page.locator("#p-p-active").get_attribute("data-value") == str(profile["p_active"])
    assert text(page, "#p-frequency") == f"{profile['frequency']:,}"
    offers = api.get("/v1/customers/12347/offers", params={"as_of": AS_OF, "limit": 5}).json()["offers"]
    shown = page.locator("article[data-channel=''] li[data-product]")
    assert [shown.nth(i).get_attribute("data-product") for i in range(shown.count())] == [
        o["product_id"] for o in offers
    ]
    assert "you bought" in text(page, "article[data-channel=''] ol.offers")  # reasons in words
    assert watch.errors == []
    assert watch.external == []


def test_a_read_key_sees_no_admin_button(browser: Any, base: str) -> None:
    page, _ = logged_in(browser, base, "reader")
    assert text(page, "#scopes") == "read"
    assert page.get_by_role("link", name="Activate…").count() == 0
    assert page.get_by_role("link", name="recipients (CSV)").count() == 0


def test_a_rollback_clicked_in_the_page_changes_the_active_version(
    browser: Any, base: str, api: httpx.Client
) -> None:
    before = next(m["version"] for m in api.get("/v1/models").json()["models"] if m["active"])
    # A second version, trained on less of the store; whichever is active, the other is the rollback.
    second = api.post("/v1/models", json={"as_of": "2011-11-01T00:00:00Z"}).json()["version"]
    deadline = time.monotonic() + 120
    while api.get(f"/v1/models/{second}").json()["status"] == "training":
        assert time.monotonic() < deadline
        time.sleep(0.3)
    active = next(m["version"] for m in api.get("/v1/models").json()["models"] if m["active"])
    target = before if active == second else second
    page, watch = logged_in(browser, base, "boss")
    page.locator(f"tr[data-version='{target}']").get_by_role("link", name="Activate…").click()
    page.get_by_role("button", name=f"Activate {target}").click()
    page.wait_for_url(f"{base}/dashboard/models?activated={target}")
    assert text(page, "#activated") == f"Version {target} is now active."
    assert "active" in text(page, f"tr[data-version='{target}']")
    assert api.get(f"/v1/models/{target}").json()["active"] is True
    assert api.get(f"/v1/models/{active}").json()["active"] is False
    assert watch.errors == []
    assert watch.external == []


def test_a_keyboard_alone_logs_in_and_moves_between_views(browser: Any, base: str) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{base}/dashboard/customers")
    page.keyboard.type("reader")  # the key field has the focus
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/dashboard/customers")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to the content"
    for _ in range(4):  # past the skip link: Overview, Customers, Reach
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "Reach":
            break
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/dashboard/reach")
    # Every field has its label; every chart is named for a screen reader.
    for view in ("/dashboard/lookup", "/dashboard/customers"):
        page.goto(base + view)
        for field in page.locator("input:not([type=hidden])").all():
            assert page.locator(f"label[for='{field.get_attribute('id')}']").count() == 1
        for canvas in page.locator("canvas").all():
            assert canvas.get_attribute("role") == "img"
            assert canvas.get_attribute("aria-labelledby")
    context.close()
