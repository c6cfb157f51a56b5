"""Campaigns over thousands of customers with random consents, channels and policies: no contact
without consent on the channel used, no cap exceeded (across two campaigns, and across campaign
sends plus reported impressions), and every recipient with an offer id of their own."""

from __future__ import annotations

import random
import time
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.store.tables import Contact, Customer
from tests.conftest import empty_tables

CUSTOMERS = 2000
T = datetime(2011, 12, 1, 9)
CHANNELS = ("email", "sms", "phone", "web")

caps = st.lists(
    st.fixed_dictionaries(
        {
            "channel": st.sampled_from((*CHANNELS, "any")),
            "max": st.integers(0, 3),
            "per_days": st.integers(1, 14),
        }
    ),
    max_size=3,
)


def iso(moment: datetime) -> str:
    return moment.isoformat() + "Z"


def shop(client: TestClient, rng: random.Random) -> None:
    events = [
        {
            "event_id": f"p{i}",
            "customer_id": f"u{i}",
            "product_id": f"k{rng.randrange(30)}",
            "quantity": 1,
            "unit_price": 2.0,
            "occurred_at": iso(T - timedelta(days=rng.randrange(1, 90))),
            "order_id": f"o{i}",
        }
        for i in range(CUSTOMERS)
    ]
    customers = [
        {
            "customer_id": f"u{i}",
            "consent": {ch: rng.random() < 0.4 for ch in ("email", "sms", "phone")},
            "preferred_channel": rng.choice([*CHANNELS, None]),
        }
        for i in range(CUSTOMERS)
    ]
    for i in range(0, CUSTOMERS, 1000):
        assert client.post("/v1/events/purchases", json={"events": events[i : i + 1000]}).status_code == 200
        assert client.put("/v1/customers", json={"customers": customers[i : i + 1000]}).status_code == 200


def run(client: TestClient, channel: str, at: datetime) -> dict[str, Any]:
    body = {"name": "p", "channel": channel, "offers_per_recipient": 2, "dry_run": False, "as_of": iso(at)}
    r = client.post("/v1/campaigns", json=body)
    assert r.status_code == 201, r.text
    answer = dict(r.json())
    deadline = time.monotonic() + 120
    while answer["status"] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
        answer = client.get(f"/v1/campaigns/{answer['campaign_id']}").json()
    assert answer["status"] == "done", answer
    return answer


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    policy=caps,
    first=st.sampled_from(("preferred", *CHANNELS)),
    second=st.sampled_from(("preferred", *CHANNELS)),
    seed=st.integers(0, 1000),
)
def test_campaigns_keep_consent_and_caps(
    committed_client: TestClient,
    committed_engine: Engine,
    policy: list[dict[str, Any]],
    first: str,
    second: str,
    seed: int,
) -> None:
    client = committed_client
    empty_tables(committed_engine)
    rng = random.Random(seed)
    shop(client, rng)
    assert client.put("/v1/policy", json={"caps": policy}).status_code == 200
    one = run(client, first, T)
    # Some customers report seeing other offers in between (impressions count against the caps).
    seen = [
        {
            "event_id": f"i{n}",
            "recommendation_id": f"elsewhere-{n}",
            "customer_id": f"u{rng.randrange(CUSTOMERS)}",
            "product_id": "k1",
            "type": "impression",
            "channel": rng.choice(CHANNELS),
            "occurred_at": iso(T + timedelta(hours=1)),
        }
        for n in range(500)
    ]
    assert client.post("/v1/events/feedback", json={"events": seen}).status_code == 200
    two = run(client, second, T + timedelta(hours=2))
    assert one["recipients"] + sum(one["skipped"].values()) == CUSTOMERS

    with Session(committed_engine) as s:
        consent = {
            c.customer_id: {
                "email": c.consent_email,
                "sms": c.consent_sms,
                "phone": c.consent_phone,
                "web": True,
            }
            for c in s.scalars(select(Customer))
        }
        contacts = s.execute(
            select(
                Contact.customer_id,
                Contact.channel,
                Contact.contacted_at,
                Contact.campaign_id,
                Contact.recommendation_id,
            )
        ).all()
    sent = [c for c in contacts if c.campaign_id is not None]
    assert len(sent) == one["recipients"] + two["recipients"]
    assert len({c.recommendation_id for c in sent}) == len(sent)  # each recipient their own id
    by_customer: dict[str, list[tuple[str, datetime]]] = defaultdict(list)
    for c in contacts:
        by_customer[c.customer_id].append((c.channel, c.contacted_at))
    for c in sent:
        # never without consent on the channel used (the shop's own web pages need none)
        assert c.channel == "web" or consent[c.customer_id][c.channel] is True, c
        for cap in policy:
            if cap["channel"] not in ("any", c.channel):
                continue
            start = c.contacted_at - timedelta(days=cap["per_days"])
            inside = [
                when
                for channel, when in by_customer[c.customer_id]
                if start < when <= c.contacted_at and cap["channel"] in ("any", channel)
            ]
            assert len(inside) <= cap["max"], (c, cap, inside)
