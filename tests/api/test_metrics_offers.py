"""GET /v1/metrics/offers: offers, feedback and the purchases they earned, grouped."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from app.clock import utcnow
from tests.api.helpers import ingest, shop_events


def test_a_purchase_of_an_offered_product_is_a_conversion_counted_once(committed_client: TestClient) -> None:
    client = committed_client
    ingest(client, shop_events(customers=20))
    offered = client.get("/v1/customers/c1/offers", params={"limit": 3, "channel": "web"}).json()
    client.get("/v1/customers/c2/offers", params={"limit": 3}).json()
    client.app.state.recommendation_log.flush()  # type: ignore[attr-defined]
    product = offered["offers"][0]["product_id"]
    soon = (utcnow() + timedelta(minutes=1)).isoformat() + "Z"
    r = client.post(
        "/v1/events/purchases",
        json={
            "events": [
                {
                    "event_id": "buy-1",
                    "customer_id": "c1",
                    "product_id": product,
                    "quantity": 2,
                    "unit_price": 5.0,
                    "occurred_at": soon,
                    "order_id": "o-after",
                },
            ]
        },
    )
    assert r.json()["accepted"] == 1
    rec = offered["recommendation_id"]
    feedback = [
        {
            "event_id": f"fb-{kind}",
            "recommendation_id": rec,
            "customer_id": "c1",
            "product_id": product,
            "type": kind,
            "occurred_at": soon,
            "channel": "web",
        }
        for kind in ("impression", "click", "conversion")
    ]
    assert client.post("/v1/events/feedback", json={"events": feedback}).json()["accepted"] == 3
    start = (utcnow() - timedelta(hours=1)).isoformat() + "Z"
    end = (utcnow() + timedelta(hours=1)).isoformat() + "Z"
    r = client.get("/v1/metrics/offers", params={"group_by": "channel", "from": start, "to": end})
    assert r.status_code == 200, r.text
    groups = {g["key"]: g for g in r.json()["groups"]}
    web = groups["web"]
    assert (web["offers"], web["impressions"], web["clicks"]) == (1, 1, 1)
    assert web["conversions"] == 1  # the purchase and the conversion event are one conversion
    assert web["revenue"] == 10.0
    assert web["ctr"] == 1.0
    assert web["conversion_rate"] == 1.0
    assert groups[None]["offers"] == 1  # c2's offers, asked without a channel
    assert groups[None]["conversions"] == 0
    r = client.get("/v1/metrics/offers", params={"from": end, "to": start})
    assert r.status_code == 422
