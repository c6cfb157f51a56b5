"""Synthetic shop data and polling helpers for the API tests (for a TestClient, or an httpx.Client
of a served process)."""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta
from typing import Any

import httpx
from fastapi.testclient import TestClient

from app.ml.config import TrainConfig

Client = TestClient | httpx.Client  # in process, or a served process

START = datetime(2011, 6, 1)
AS_OF = "2011-12-15T00:00:00Z"  # the profile tests' moment
MOMENT = datetime(2011, 12, 15)

# Personal signals well above popularity, whatever nbo tune chose as defaults: for tests of how a
# customer's own purchases shape their offers.
PERSONAL = TrainConfig(
    monetary_weight=0.3,
    half_life_days=180.0,
    factors=64,
    repeat_half_life_days=60.0,
    cf_weight=0.5,
    knn_weight=0.5,
    popular_weight=0.05,
    popularity_days=90.0,
)


def shop_events(customers: int = 45, seed: int = 7) -> list[dict[str, Any]]:
    """Three taste clusters of eight products; each customer orders from its own cluster."""
    rng = random.Random(seed)
    events = []
    for c in range(customers):
        cluster = c % 3
        for o in range(rng.randint(3, 6)):
            when = START + timedelta(days=rng.randint(0, 180), hours=rng.randint(8, 18))
            for p in rng.sample(range(8), 3):
                events.append(
                    {
                        "event_id": f"c{c}-o{o}-p{p}",
                        "customer_id": f"c{c}",
                        "product_id": f"k{cluster}-{p}",
                        "quantity": rng.randint(1, 6),
                        "unit_price": round(rng.uniform(1, 20), 2),
                        "occurred_at": when.isoformat() + "Z",
                        "order_id": f"c{c}-o{o}",
                    }
                )
    return events


def ingest(client: Client, events: list[dict[str, Any]]) -> None:
    for i in range(0, len(events), 1000):
        r = client.post("/v1/events/purchases", json={"events": events[i : i + 1000]})
        assert r.status_code == 200, r.text
        assert not r.json()["rejected"]


def train(client: Client, as_of: str | None = None, timeout: float = 60.0) -> dict[str, Any]:
    r = client.post("/v1/models", json={"as_of": as_of} if as_of else {})
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "training"
    version = r.json()["version"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/v1/models/{version}").json()
        if body["status"] != "training":
            assert body["status"] == "ready", body
            return dict(body)
        time.sleep(0.1)
    raise AssertionError(f"{version} still training after {timeout} s")


def wait_serving(client: Client, version: str | None, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.get("/v1/customers/c0/offers").json()["model_version"] == version:
            return
        time.sleep(0.05)
    raise AssertionError(f"not serving {version}")


def event(
    event_id: str, customer: str, product: str, quantity: int, when: datetime, order: str
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "customer_id": customer,
        "product_id": product,
        "quantity": quantity,
        "unit_price": 4.0,
        "occurred_at": when.isoformat() + "Z",
        "order_id": order,
    }
