"""The shop the profile and audience tests read: shop_events() and a few customers with a story."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from tests.api.helpers import AS_OF, MOMENT, event, ingest, shop_events, train, wait_serving


@pytest.fixture
def shop(committed_client: TestClient) -> TestClient:
    client = committed_client
    events = shop_events()
    # a customer with one order, one with returns only, one who refills k1-0 every 20 days
    events.append(event("solo-1", "solo", "k0-1", 2, datetime(2011, 12, 1, 10), "solo-o1"))
    events.append(event("ret-1", "returner", "k0-2", -1, datetime(2011, 11, 1, 10), "ret-o1"))
    for k in range(5):
        when = MOMENT - timedelta(days=18 + 20 * k)
        events.append(event(f"refill-{k}", "refiller", "k1-0", 1, when, f"refill-o{k}"))
    ingest(client, events)
    r = client.put(
        "/v1/customers",
        json={
            "customers": [
                {"customer_id": "lead", "preferred_channel": "email"},
                {"customer_id": "c0", "preferred_channel": "sms"},
            ]
        },
    )
    assert r.status_code == 200
    version = train(client, as_of=AS_OF)
    wait_serving(client, version["version"])
    return client
