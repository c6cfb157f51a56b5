from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from app.store.tables import Recommendation
from tests.api.helpers import AS_OF
from tests.dashboard.conftest import ADMIN, Shop

DAY = AS_OF[:10]
VIEWS = ("/dashboard", "/dashboard/customers", "/dashboard/reach", "/dashboard/models", "/dashboard/lookup")


def cells(html: str, attribute: str) -> dict[str, list[str]]:
    """Per row carrying ``attribute``: the data-value of each of its cells that has one."""
    rows = re.findall(rf'<tr {attribute}="([^"]*)"[^>]*>(.*?)</tr>', html, flags=re.S)
    return {key: re.findall(r'data-value="([^"]*)"', body) for key, body in rows}


def test_an_open_service_opens_its_dashboard_to_all(client: TestClient) -> None:
    for view in VIEWS:
        r = client.get(view)
        assert r.status_code == 200, (view, r.text)
        assert "open: no API keys" in r.text
        assert "default-src 'self'" in r.headers["content-security-policy"]
        assert r.headers["cache-control"] == "no-store"


def test_a_page_without_a_session_asks_for_the_key_then_comes_back(shop: Shop) -> None:
    r = shop.get("/dashboard/reach?as_of=2011-12-10", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/dashboard/login?next=/dashboard/reach%3Fas_of%3D2011-12-10"
    # A bearer header is the API's way in, not the dashboard's.
    assert shop.get("/dashboard", headers=ADMIN, follow_redirects=False).status_code == 303
    r = shop.post(
        "/dashboard/login",
        data={"key": "reader", "next": "/dashboard/reach?as_of=2011-12-10"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert r.headers["location"] == "/dashboard/reach?as_of=2011-12-10"
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Path=/dashboard" in cookie
    assert "reader" not in cookie
    assert "expires" not in cookie.lower()
    assert shop.get("/dashboard/reach?as_of=2011-12-10").status_code == 200


def test_unknown_and_write_only_keys_are_refused(shop: Shop) -> None:
    r = shop.post("/dashboard/login", data={"key": "nobody"})
    assert r.status_code == 401
    assert "This key is not known." in r.text
    assert "set-cookie" not in r.headers
    r = shop.post("/dashboard/login", data={"key": "feeder"})
    assert r.status_code == 401
    assert "lacks the &#39;read&#39; scope" in r.text
    shop.cookies.set("nbo_dashboard", "1700000000.forged", path="/dashboard")
    assert shop.get("/dashboard", follow_redirects=False).status_code == 303
    assert (
        shop.post(
            "/dashboard/login", content=b"key=reader", headers={"content-type": "text/plain"}
        ).status_code
        == 415
    )


def test_a_read_key_looks_but_cannot_activate_or_export(shop: Shop) -> None:
    shop.login("reader")
    for view in VIEWS:
        assert shop.get(view).status_code == 200, view
    models = shop.get("/dashboard/models").text
    assert "Activate…" not in models
    assert "An admin key may activate" in models
    version = shop.get("/v1/models", headers=ADMIN).json()["models"][0]["version"]
    assert shop.get(f"/dashboard/models/{version}/activate").status_code == 403
    r = shop.post(f"/dashboard/models/{version}/activate", headers={"origin": "http://testserver"})
    assert r.status_code == 403
    assert "Only an admin key" in r.text


def test_an_admin_activates_from_the_dashboard_own_page_only(shop: Shop) -> None:
    shop.headers.update(ADMIN)
    first = shop.get("/v1/models").json()["models"][0]["version"]
    r = shop.post("/v1/models", json={"as_of": "2011-12-01T00:00:00Z"})
    second = r.json()["version"]
    while shop.get(f"/v1/models/{second}").json()["status"] == "training":
        pass
    del shop.headers["Authorization"]
    shop.login("boss")
    active = next(m["version"] for m in shop.get("/v1/models", headers=ADMIN).json()["models"] if m["active"])
    other = second if active == first else first
    models = shop.get("/dashboard/models").text
    assert f'href="/dashboard/models/{other}/activate"' in models
    assert f'href="/dashboard/models/{active}/activate"' not in models
    assert f"It replaces <code>{active}</code>" in shop.get(f"/dashboard/models/{other}/activate").text
    # A form posted from elsewhere (or with no Origin) does nothing.
    for origin in ({"origin": "https://evil.example"}, {}):
        assert shop.post(f"/dashboard/models/{other}/activate", headers=origin).status_code == 403
    assert shop.get(f"/v1/models/{other}", headers=ADMIN).json()["active"] is False
    r = shop.post(
        f"/dashboard/models/{other}/activate", headers={"origin": "http://testserver"}, follow_redirects=False
    )
    assert r.status_code == 303
    assert r.headers["location"] == f"/dashboard/models?activated={other}"
    assert shop.get(f"/v1/models/{other}", headers=ADMIN).json()["active"] is True
    assert (
        shop.post("/dashboard/models/v0/activate", headers={"origin": "http://testserver"}).status_code == 404
    )


def test_the_customers_view_shows_the_api_figures(shop: Shop) -> None:
    shop.login("reader")
    html = shop.get(f"/dashboard/customers?as_of={DAY}").text
    api = shop.get(f"/v1/segments?as_of={AS_OF}", headers=ADMIN).json()
    shown = cells(html, "data-segment")
    for row in api["segments"]:
        assert shown[row["segment"]] == [str(row["customers"]), str(row["revenue"])]
    assert re.search(r'id="kpi-customers">([\d,]+)<', html).group(1).replace(",", "") == str(api["customers"])  # type: ignore[union-attr]
    top = f"{100 * api['pareto']['top_20_percent_revenue_share']:.1f} %"
    assert f'id="kpi-top20">{top}<' in html
    for days, (count,) in cells(html, "data-days").items():
        audience = shop.get(
            f"/v1/customers?due_within_days={days}&as_of={AS_OF}&limit=1000", headers=ADMIN
        ).json()
        assert int(count) == len(audience["customers"]), days
    assert shop.get("/dashboard/customers?as_of=2011-13-01").status_code == 422


def test_the_lookup_shows_the_profile_and_a_preview_that_is_not_an_offer_made(
    shop: Shop, engine: Engine
) -> None:
    shop.login("reader")

    def offers_made() -> int:
        shop.app.state.recommendation_log.flush()  # type: ignore[attr-defined]
        with engine.connect() as c:
            return int(c.scalar(select(func.count()).select_from(Recommendation)) or 0)

    before = offers_made()
    html = shop.get(f"/dashboard/lookup?customer_id=c0&as_of={DAY}").text
    api = shop.get(f"/v1/customers/c0/profile?as_of={AS_OF}", headers=ADMIN).json()
    assert f'id="p-segment">{api["segment"]}<' in html
    assert f'id="p-p-active" data-value="{api["p_active"]}"' in html
    assert f'id="p-monetary" data-value="{api["monetary"]}"' in html
    offers = shop.get(f"/v1/customers/c0/offers?as_of={AS_OF}&limit=5", headers=ADMIN).json()
    shown = re.findall(r'<article class="channel" data-channel="">(.*?)</article>', html, flags=re.S)[0]
    assert re.findall(r'<li data-product="([^"]+)"', shown) == [o["product_id"] for o in offers["offers"]]
    assert offers_made() == before + 1  # the API's answer, not the page's preview
    r = shop.get("/dashboard/lookup?customer_id=nobody-at-all")
    assert r.status_code == 404
    assert "No data about customer nobody-at-all" in r.text


def test_the_reach_view_shows_the_api_metrics_and_exports_for_admins(shop: Shop) -> None:
    shop.headers.update(ADMIN)
    for c in ("c0", "c1", "c2"):
        shop.get(f"/v1/customers/{c}/offers")
    campaign = shop.post(
        "/v1/campaigns",
        json={"name": "spring", "audience": {}, "channel": "web", "offers_per_recipient": 2, "dry_run": True},
    ).json()
    shop.app.state.recommendation_log.flush()  # type: ignore[attr-defined]
    del shop.headers["Authorization"]
    shop.login("reader")
    html = shop.get("/dashboard/reach").text
    start, end = re.search(r'data-from="([^"]+)" data-to="([^"]+)"', html).groups()  # type: ignore[union-attr]
    api = shop.get(
        "/v1/metrics/offers", params={"group_by": "strategy", "from": start, "to": end}, headers=ADMIN
    ).json()
    table = re.search(r'<table id="by-strategy">(.*?)</table>', html, flags=re.S).group(1)  # type: ignore[union-attr]
    offers = {
        k: re.findall(r"<td>([\d,]+)</td>", body)[0]
        for k, body in re.findall(r'<tr data-key="([^"]*)">(.*?)</tr>', table, flags=re.S)
    }
    assert offers == {str(g["key"]): f"{g['offers']:,}" for g in api["groups"]}
    assert offers
    assert f'data-campaign="{campaign["campaign_id"]}"' in html
    link = f"/dashboard/campaigns/{campaign['campaign_id']}/recipients.csv"
    assert link not in html
    assert shop.get(link).status_code == 403
    shop.login("boss")
    assert link in shop.get("/dashboard/reach").text
    r = shop.get(link)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert (
        r.text
        == shop.get(f"/v1/campaigns/{campaign['campaign_id']}/recipients?format=csv", headers=ADMIN).text
    )


def test_the_overview_shows_the_base_and_the_active_version(shop: Shop) -> None:
    shop.login("reader")
    html = shop.get(f"/dashboard?as_of={DAY}").text
    segments = shop.get(f"/v1/segments?as_of={AS_OF}", headers=ADMIN).json()
    active = next(m for m in shop.get("/v1/models", headers=ADMIN).json()["models"] if m["active"])
    assert f'id="kpi-customers">{segments["customers"]:,}<' in html
    assert f'id="kpi-revenue">{segments["revenue"]:,.2f}<' in html
    assert f'id="kpi-version">{active["version"]}<' in html
    quality = cells(html, "data-task")
    for task in ("repeat", "discovery"):
        assert quality[task] == [str(active["metrics"]["evaluation"][task]["ndcg"])]
    # Every month's revenue is shown, and they add up to the store's (the base has no refunds alone).
    months = re.search(r'<table id="months">(.*?)</table>', html, flags=re.S).group(1)  # type: ignore[union-attr]
    assert round(sum(float(v) for v in re.findall(r'data-value="([^"]+)"', months)), 2) == segments["revenue"]
    assert "every 24 h" not in html  # the tests' settings turn the schedule off
