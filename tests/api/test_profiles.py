from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.ml.rfm import SEGMENTS
from tests.api.helpers import AS_OF, MOMENT, event, shop_events


def profile(client: TestClient, customer: str, as_of: str = AS_OF) -> dict[str, Any]:
    r = client.get(f"/v1/customers/{customer}/profile", params={"as_of": as_of})
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_profile_figures_follow_the_purchases(shop: TestClient) -> None:
    mine = [e for e in shop_events() if e["customer_id"] == "c0"]
    body = profile(shop, "c0")
    assert body["customer_id"] == "c0"
    assert body["frequency"] == len({e["order_id"] for e in mine})
    assert body["monetary"] == pytest.approx(sum(e["quantity"] * e["unit_price"] for e in mine), abs=0.01)
    first = min(e["occurred_at"] for e in mine)
    last = max(e["occurred_at"] for e in mine)
    assert body["first_purchase_at"] == first
    assert body["last_purchase_at"] == last
    last_at = datetime.fromisoformat(last.removesuffix("Z"))
    assert body["recency_days"] == pytest.approx((MOMENT - last_at).total_seconds() / 86400, abs=1e-3)
    assert body["segment"] in SEGMENTS
    assert body["segment"] != "prospect"
    assert 0.0 <= body["p_active"] <= 1.0
    assert body["expected_purchases_30d"] >= 0.0
    # 90 days hold at least the next 30's orders and at most three times them
    assert body["expected_purchases_30d"] <= body["expected_orders_90d"] + 1e-6
    assert body["expected_orders_90d"] <= 3 * body["expected_purchases_30d"] + 1e-6
    assert body["expected_spend_90d"] >= 0.0
    assert (body["expected_spend_90d"] > 0) == (body["expected_orders_90d"] > 0)
    assert all(1 <= body["rfm"][k] <= 5 for k in ("recency", "frequency", "monetary"))
    assert body["preferred_channel"] == "sms"
    if body["next_purchase_at"] is not None:
        assert body["next_purchase_at"] > AS_OF


def test_one_order_returns_only_prospects_and_the_past(shop: TestClient) -> None:
    solo = profile(shop, "solo")
    assert solo["frequency"] == 1
    assert solo["segment"] == "new"  # one order, two weeks ago
    assert solo["first_purchase_at"] == solo["last_purchase_at"] == "2011-12-01T10:00:00Z"

    returner = profile(shop, "returner")
    assert returner["frequency"] == 0
    assert returner["segment"] == "prospect"
    assert returner["monetary"] == -4.0

    lead = profile(shop, "lead")
    assert lead["segment"] == "prospect"
    assert lead["preferred_channel"] == "email"
    assert lead["p_active"] == 0.0
    assert lead["expected_purchases_30d"] == 0.0
    assert lead["expected_orders_90d"] == lead["expected_spend_90d"] == 0.0

    # as of now (years later) the times are still exact
    assert (
        profile(shop, "solo", as_of="2026-11-23T19:11:30.123789Z")["first_purchase_at"]
        == "2011-12-01T10:00:00Z"
    )

    # before solo's first purchase: known, nothing bought yet
    before = profile(shop, "solo", as_of="2011-11-30T00:00:00Z")
    assert before["segment"] == "prospect"
    assert before["frequency"] == 0

    r = shop.get("/v1/customers/nobody-at-all/profile")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"
    assert "customer_id" in r.json()["error"]["message"]


def test_refill_due(shop: TestClient) -> None:
    due = profile(shop, "refiller")["due_products"]
    assert [d["product_id"] for d in due] == ["k1-0"]
    item = due[0]
    assert item["last_purchase_at"] == "2011-11-27T00:00:00Z"
    last = datetime.fromisoformat(item["last_purchase_at"].removesuffix("Z"))
    due_at = datetime.fromisoformat(item["due_at"].removesuffix("Z"))
    assert (due_at - last).total_seconds() / 86400 == pytest.approx(item["cycle_days"], abs=0.1)
    assert due_at <= MOMENT + timedelta(days=30)


def test_segments_and_pareto(shop: TestClient) -> None:
    r = shop.get("/v1/segments", params={"as_of": AS_OF})
    assert r.status_code == 200, r.text
    body = r.json()
    rows = {row["segment"]: row for row in body["segments"]}
    assert set(rows) == set(SEGMENTS)
    assert sum(row["customers"] for row in rows.values()) == body["customers"]
    assert rows["prospect"]["customers"] == 1  # "lead": in the store, never bought anything
    # each share is rounded to 6 decimals
    assert sum(row["share_revenue"] for row in rows.values()) == pytest.approx(1.0, abs=1e-5)
    # the revenue expected over 90 days: each segment's is its customers' expected_spend_90d
    assert rows["prospect"]["expected_revenue_90d"] == 0.0
    per_segment = sum(row["expected_revenue_90d"] for row in rows.values())
    assert body["expected_revenue_90d"] == pytest.approx(per_segment, abs=0.01 * len(rows))
    assert body["expected_revenue_90d"] > 0
    listed = shop.get("/v1/customers", params={"as_of": AS_OF, "limit": 1000}).json()["customers"]
    champions = [c for c in listed if c["segment"] == "champions"]
    assert rows["champions"]["expected_revenue_90d"] == pytest.approx(
        sum(c["expected_spend_90d"] for c in champions), abs=0.01 * max(len(champions), 1)
    )
    # the Pareto share against a direct computation over the buyers' net spend
    spend: dict[str, float] = defaultdict(float)
    events = [
        *shop_events(),
        event("solo-1", "solo", "k0-1", 2, datetime(2011, 12, 1, 10), "x"),
        *(event("r", "refiller", "k1-0", 1, MOMENT, "x") for _ in range(5)),
    ]
    for e in events:
        spend[e["customer_id"]] += e["quantity"] * e["unit_price"]
    ranked = sorted(spend.values(), reverse=True)
    top = ranked[: round(0.2 * len(ranked))]
    assert body["pareto"]["top_20_percent_revenue_share"] == pytest.approx(sum(top) / sum(ranked), abs=1e-6)
    assert body["pareto"]["curve"][-1]["revenue"] == pytest.approx(1.0)


def test_p_active_falls_for_a_single_order_long_ago_and_it_is_not_new(shop: TestClient) -> None:
    long_ago = MOMENT - timedelta(days=5501)
    r = shop.post(
        "/v1/events/purchases", json={"events": [event("old-1", "ancient", "k0-1", 1, long_ago, "old-o1")]}
    )
    assert r.json()["accepted"] == 1
    ancient, solo = profile(shop, "ancient"), profile(shop, "solo")  # one order each: 15 years, 2 weeks ago
    assert ancient["p_active"] < 0.2 < solo["p_active"] < 1.0, (ancient, solo)
    assert ancient["segment"] != "new"
    assert ancient["segment"] == "lost"
    assert solo["segment"] == "new"


def test_forecasts_stay_finite_long_after_the_last_purchase(shop: TestClient) -> None:
    from app.clock import utcnow

    now = utcnow() - timedelta(seconds=5)
    r = shop.post("/v1/events/purchases", json={"events": [event("now-1", "c1", "k0-1", 1, now, "now-o1")]})
    assert r.json()["accepted"] == 1
    for customer in ("c1", "c2", "refiller"):
        r = shop.get(f"/v1/customers/{customer}/profile")  # as of now: years after nearly everything
        assert r.status_code == 200, r.text
        body = r.json()
        assert 0.0 <= body["expected_purchases_30d"] < 50.0, body
        assert 0.0 <= body["p_active"] <= 1.0
        if body["next_purchase_at"] is not None:
            assert body["next_purchase_at"] > r.json()["last_purchase_at"]


def test_profiles_without_as_of_share_one_base_until_purchases_arrive(
    shop: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.ml.rfm import activity as real

    computed: list[int] = []

    def counting(*args: Any, **kwargs: Any) -> Any:
        computed.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr("app.customers.base.activity", counting)
    seconds = [0.0]  # the app's clock for how fresh its copy of the purchases is
    shop.app.state.derived.purchases.clock = lambda: seconds[0]  # type: ignore[attr-defined]
    customers = [f"c{i}" for i in range(20)]
    first = [shop.get(f"/v1/customers/{c}/profile").json() for c in customers]
    assert len(computed) == 1  # "now" moves with each request; the base does not
    assert [shop.get(f"/v1/customers/{c}/profile").json() for c in customers] == first
    assert shop.get("/v1/segments").status_code == 200
    assert len(computed) == 1
    r = shop.post(
        "/v1/events/purchases", json={"events": [event("late-1", "c3", "k0-1", 1, MOMENT, "late-o1")]}
    )
    assert r.json()["accepted"] == 1
    assert shop.get("/v1/customers/c3/profile").json() == first[3]  # a second behind the store ...
    seconds[0] += 1.0
    after = shop.get("/v1/customers/c3/profile").json()
    assert len(computed) == 2
    assert after["frequency"] == first[3]["frequency"] + 1
