"""Experiments through HTTP: variants on the offers, a holdout offered nothing, results per variant."""

from __future__ import annotations

import time
from datetime import timedelta

from fastapi.testclient import TestClient

from app.clock import utcnow
from app.serving.experiments import Running
from tests.api.helpers import ingest, shop_events

VARIANTS = [
    {"name": "control", "weight": 1, "holdout": True},
    {"name": "refill", "weight": 1, "strategy": "refill"},
]


def test_offers_carry_the_variant_and_the_holdout_gets_none(committed_client: TestClient) -> None:
    client = committed_client
    ingest(client, shop_events(customers=40))
    r = client.put("/v1/experiments/spring", json={"variants": VARIANTS})
    assert r.status_code == 200, r.text
    assigned = Running.of("spring", VARIANTS)
    answers = {}
    for i in range(40):
        body = client.get(f"/v1/customers/c{i}/offers", params={"limit": 3}).json()
        variant = assigned.assign(f"c{i}").name
        assert body["experiment"] == {"name": "spring", "variant": variant}
        if variant == "control":
            assert (body["strategy"], body["offers"]) == ("holdout", [])
        else:
            assert body["offers"]
        answers[f"c{i}"] = body
    client.app.state.recommendation_log.flush()  # type: ignore[attr-defined]
    soon = (utcnow() + timedelta(minutes=1)).isoformat() + "Z"
    buyers = [c for c in answers if answers[c]["experiment"]["variant"] == "refill"][:5]
    buyers += [c for c in answers if answers[c]["experiment"]["variant"] == "control"][:2]
    events = [
        {
            "event_id": f"x-{c}",
            "customer_id": c,
            "product_id": "k0-1",
            "quantity": 1,
            "unit_price": 10.0,
            "occurred_at": soon,
            "order_id": f"xo-{c}",
        }
        for c in buyers
    ]
    assert client.post("/v1/events/purchases", json={"events": events}).json()["accepted"] == len(events)
    r = client.get("/v1/experiments/spring/results")
    assert r.status_code == 200, r.text
    rows = {v["name"]: v for v in r.json()["variants"]}
    n_control = sum(1 for b in answers.values() if b["experiment"]["variant"] == "control")
    assert rows["control"]["customers"] == n_control
    assert rows["refill"]["customers"] == 40 - n_control
    assert rows["refill"]["conversions"] == 5
    assert rows["control"]["conversions"] == 2
    assert rows["refill"]["revenue"] == 50.0
    assert rows["control"]["uplift_vs_control"] is None
    lift = rows["refill"]["uplift_vs_control"]
    expected = 50.0 / (40 - n_control) - 20.0 / n_control
    assert abs(lift["estimate"] - expected) < 1e-3
    assert lift["ci95"][0] < lift["estimate"] < lift["ci95"][1]

    r = client.post("/v1/experiments/spring/stop")
    assert r.json()["active"] is False
    assert "experiment" not in client.get("/v1/customers/c1/offers").json()


def test_an_experiment_needs_valid_variants(committed_client: TestClient) -> None:
    r = committed_client.put("/v1/experiments/x", json={"variants": [{"name": "a", "weight": 1}]})
    assert r.status_code == 422
    assert "variants" in r.json()["error"]["message"]
    bad = [{"name": "a", "weight": 1}, {"name": "b", "weight": 1, "model_version": "v-none"}]
    r = committed_client.put("/v1/experiments/x", json={"variants": bad})
    assert r.status_code == 422
    assert "variants[1].model_version" in r.json()["error"]["message"]
    assert committed_client.get("/v1/experiments/none/results").status_code == 404


def test_a_variant_may_serve_another_version(shop: TestClient) -> None:
    active = shop.get("/v1/models").json()["models"][0]["version"]
    other = shop.post("/v1/models", json={"as_of": "2011-11-01T00:00:00Z"}).json()["version"]
    deadline = time.monotonic() + 60
    while (row := shop.get(f"/v1/models/{other}").json())["status"] == "training":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert row["status"] == "ready"
    if row["active"]:  # the gate let it replace the first: put the first back
        assert shop.post(f"/v1/models/{active}/activate").status_code == 200
    variants = [{"name": "current", "weight": 1}, {"name": "older", "weight": 1, "model_version": other}]
    assert shop.put("/v1/experiments/versions", json={"variants": variants}).status_code == 200
    assigned = Running.of("versions", variants)
    for i in range(20):
        body = shop.get(f"/v1/customers/c{i}/offers").json()
        expected = other if assigned.assign(f"c{i}").name == "older" else active
        assert body["model_version"] == expected, (i, body["experiment"])
