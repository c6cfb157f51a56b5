"""The contact policy through HTTP: consent, caps counted from impressions, cool-down, fatigue."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.clock import utcnow
from tests.api.helpers import ingest, shop_events


@pytest.fixture
def shop(committed_client: TestClient) -> TestClient:
    """The popularity fallback over shop_events(), and two customers with consent set."""
    ingest(committed_client, shop_events(customers=20))
    r = committed_client.put(
        "/v1/customers",
        json={
            "customers": [
                {"customer_id": "c1", "consent": {"email": True, "sms": False}, "preferred_channel": "email"},
                {"customer_id": "c2", "consent": {"sms": True}},
            ]
        },
    )
    assert r.status_code == 200
    return committed_client


def offers(client: TestClient, customer: str, **params: Any) -> dict[str, Any]:
    r = client.get(f"/v1/customers/{customer}/offers", params=params)
    assert r.status_code == 200, r.text
    return dict(r.json())


def feedback(client: TestClient, *events: tuple[str, str, str, str, str | None], product: str = "zz") -> None:
    """(event id, customer, recommendation, type, channel), all on ``product``, a minute ago."""
    now = utcnow() - timedelta(minutes=1)
    rows = [
        {
            "event_id": eid,
            "recommendation_id": rec,
            "customer_id": customer,
            "product_id": product,
            "type": kind,
            "occurred_at": now.isoformat() + "Z",
            **({"channel": channel} if channel else {}),
        }
        for eid, customer, rec, kind, channel in events
    ]
    r = client.post("/v1/events/feedback", json={"events": rows})
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == len(rows)


def set_policy(client: TestClient, **body: Any) -> dict[str, Any]:
    r = client.put("/v1/policy", json=body)
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_the_policy_is_stored_and_read_back(shop: TestClient) -> None:
    assert shop.get("/v1/policy").json()["caps"] == []  # every rule off until one is stored
    body = {"caps": [{"channel": "email", "max": 2, "per_days": 7}], "cooldown_after_dismiss_days": 3}
    stored = set_policy(shop, **body)
    assert stored["caps"] == body["caps"]
    assert stored["cooldown_after_dismiss_days"] == 3
    assert stored["max_impressions_without_click"] == 0
    assert shop.get("/v1/policy").json() == stored
    r = shop.put("/v1/policy", json={"caps": [{"channel": "fax", "max": 1, "per_days": 1}]})
    assert r.status_code == 422
    assert "caps[0].channel" in r.json()["error"]["message"]
    r = shop.put("/v1/policy", json={"caps": [{"channel": "sms", "max": -1, "per_days": 1}]})
    assert r.status_code == 422
    assert "max" in r.json()["error"]["message"]


def test_no_offer_through_a_channel_without_consent(shop: TestClient) -> None:
    plain = offers(shop, "c1")
    assert "contactable" not in plain  # without a channel: as ever
    assert plain["offers"]
    email = offers(shop, "c1", channel="email")
    assert email["contactable"] is True
    assert email["blocked_by"] is None
    assert email["offers"]
    sms = offers(shop, "c1", channel="sms")
    assert sms == {**sms, "contactable": False, "blocked_by": "no_consent", "offers": []}
    assert offers(shop, "c2", channel="sms")["contactable"] is True
    assert offers(shop, "c2", channel="email")["blocked_by"] == "no_consent"  # never given
    assert offers(shop, "c2", channel="web")["contactable"] is True  # the shop's own pages
    assert offers(shop, "stranger", channel="email")["blocked_by"] == "no_consent"
    assert offers(shop, "stranger", channel="web")["offers"]


def test_impressions_count_against_the_caps(shop: TestClient) -> None:
    set_policy(
        shop,
        caps=[{"channel": "email", "max": 2, "per_days": 7}, {"channel": "any", "max": 3, "per_days": 7}],
    )
    feedback(shop, ("f1", "c1", "r1", "impression", "email"), ("f2", "c1", "r1", "impression", "email"))
    assert offers(shop, "c1", channel="email")["contactable"] is True  # one offer seen: one contact
    feedback(shop, ("f3", "c1", "r2", "impression", "email"))
    assert offers(shop, "c1", channel="email")["blocked_by"] == "cap"
    web = offers(shop, "c1", channel="web")
    assert web["contactable"] is True, web["blocked_by"]  # 2 contacts in all, of 3
    feedback(shop, ("f4", "c1", "r3", "impression", None))  # a page view: the web
    assert offers(shop, "c1", channel="web")["blocked_by"] == "cap"
    later = (utcnow() + timedelta(days=8)).isoformat() + "Z"
    assert offers(shop, "c1", channel="email", as_of=later)["contactable"] is True


def test_a_dismissal_cools_down_and_tired_products_rest(shop: TestClient) -> None:
    set_policy(shop, cooldown_after_dismiss_days=2)
    feedback(shop, ("d1", "c1", "r1", "dismiss", "email"))
    assert offers(shop, "c1", channel="email")["blocked_by"] == "cooldown"
    later = (utcnow() + timedelta(days=3)).isoformat() + "Z"
    assert offers(shop, "c1", channel="email", as_of=later)["contactable"] is True

    set_policy(shop, max_impressions_without_click=2)
    first = offers(shop, "c2", channel="web")["offers"][0]["product_id"]
    feedback(
        shop, ("i0", "c2", "q0", "impression", "web"), ("i1", "c2", "q1", "impression", "web"), product=first
    )
    assert offers(shop, "c2", channel="web")["blocked_by"] == "fatigue"  # two offers, no click
    feedback(shop, ("k1", "c2", "q9", "click", "web"), product="another")
    again = offers(shop, "c2", channel="web")
    assert again["contactable"] is True
    assert first not in [o["product_id"] for o in again["offers"]]  # shown twice, never clicked
    assert first in [o["product_id"] for o in offers(shop, "c2")["offers"]]  # no channel: no policy
