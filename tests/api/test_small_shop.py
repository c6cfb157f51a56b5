"""A tiny shop in two clear groups, through the HTTP pipeline with the default settings: whatever a
store this small makes of the blend, a customer's own group comes before the other's."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import START, ingest, train, wait_serving

GROUPS = ("a", "b")


def two_groups(customers: int = 60, seed: int = 11) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Each customer buys the four products of its group less one, over a few orders; returns the
    events and each customer's held-out product."""
    rng = random.Random(seed)
    events, held_out = [], {}
    for c in range(customers):
        group = GROUPS[c % 2]
        products = [f"{group}{p}" for p in range(4)]
        held_out[f"u{c}"] = products.pop(rng.randrange(4))
        for o in range(rng.randint(1, 3)):
            when = START + timedelta(days=rng.randint(0, 150), hours=rng.randint(8, 18))
            for p in products if o == 0 else rng.sample(products, 2):
                events.append(
                    {
                        "event_id": f"u{c}-o{o}-{p}",
                        "customer_id": f"u{c}",
                        "product_id": p,
                        "quantity": rng.randint(1, 3),
                        "unit_price": round(rng.uniform(2, 10), 2),
                        "occurred_at": when.isoformat() + "Z",
                        "order_id": f"u{c}-o{o}",
                    }
                )
    return events, held_out


@pytest.fixture
def tiny(committed_client: TestClient) -> tuple[TestClient, dict[str, str]]:
    events, held_out = two_groups()
    ingest(committed_client, events)
    wait_serving(committed_client, train(committed_client)["version"])
    return committed_client, held_out


def test_a_customer_is_offered_the_product_of_its_own_group_it_lacks_first(
    tiny: tuple[TestClient, dict[str, str]],
) -> None:
    client, held_out = tiny
    for customer, missing in held_out.items():
        r = client.get(f"/v1/customers/{customer}/offers", params={"exclude_purchased": "true", "limit": 4})
        assert r.status_code == 200, r.text
        offers = [o["product_id"] for o in r.json()["offers"]]
        assert offers[0] == missing, (customer, r.json())


def test_similar_products_list_their_group_first(tiny: tuple[TestClient, dict[str, str]]) -> None:
    client, _ = tiny
    for group in GROUPS:
        for p in range(4):
            r = client.get(f"/v1/products/{group}{p}/similar", params={"limit": 3})
            assert r.status_code == 200, r.text
            similar = [s["product_id"] for s in r.json()["items"]]
            assert sorted(similar) == sorted(f"{group}{q}" for q in range(4) if q != p), r.json()
