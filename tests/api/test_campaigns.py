"""Campaigns through HTTP: a dry run counts, a real run sends under the policy and records each
contact; the recipients export; two campaigns back to back never exceed a cap together."""

from __future__ import annotations

import csv
import io
import json
import random
import time
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.clock import utcnow
from app.config import Settings
from app.main import create_app
from app.store.tables import Campaign
from tests.api.helpers import AS_OF


def consents(client: TestClient, seed: int = 3) -> dict[str, dict[str, Any]]:
    """Random consents and preferred channels for the shop's customers c0..c44."""
    rng = random.Random(seed)
    customers = {}
    for i in range(45):
        consent = {ch: rng.random() < 0.5 for ch in ("email", "sms", "phone")}
        customers[f"c{i}"] = {
            "customer_id": f"c{i}",
            "consent": consent,
            "preferred_channel": rng.choice(["email", "sms", "phone", "web", None]),
        }
    r = client.put("/v1/customers", json={"customers": list(customers.values())})
    assert r.status_code == 200, r.text
    return customers


def campaign(client: TestClient, **body: Any) -> dict[str, Any]:
    r = client.post("/v1/campaigns", json={"name": "test", "as_of": AS_OF, **body})
    assert r.status_code == 201, r.text
    answer = dict(r.json())
    deadline = time.monotonic() + 60
    while answer["status"] == "running":
        assert time.monotonic() < deadline, answer
        time.sleep(0.05)
        answer = client.get(f"/v1/campaigns/{answer['campaign_id']}").json()
    return answer


def recipients(client: TestClient, campaign_id: str) -> list[dict[str, Any]]:
    r = client.get(f"/v1/campaigns/{campaign_id}/recipients")
    assert r.status_code == 200, r.text
    rows = list(r.json())
    text = client.get(f"/v1/campaigns/{campaign_id}/recipients", params={"format": "csv"}).text
    parsed = [
        {**row, "offers": json.loads(row["offers"]), "products": json.loads(row["products"])}
        for row in csv.DictReader(io.StringIO(text))
    ]
    assert parsed == rows  # the CSV export parses back to the same rows
    return rows


def test_a_dry_run_counts_and_sends_nothing(shop: TestClient) -> None:
    people = consents(shop)
    dry = campaign(shop, channel="email", offers_per_recipient=2, dry_run=True)
    assert dry["status"] == "dry_run"
    consented = {c for c, p in people.items() if p["consent"]["email"]}
    assert dry["recipients"] + sum(dry["skipped"].values()) >= len(people)
    assert dry["skipped"]["no_consent"] >= len(people) - len(consented)
    assert 0 < dry["recipients"] <= len(consented)
    assert all(p["customer_id"] in consented and len(p["offers"]) == 2 for p in dry["preview"])
    assert recipients(shop, dry["campaign_id"]) == dry["preview"]
    again = campaign(shop, channel="email", offers_per_recipient=2, dry_run=True)
    assert again["recipients"] == dry["recipients"]  # nothing was recorded: no cap moved


def test_a_real_run_sends_under_the_policy_and_two_runs_share_the_caps(shop: TestClient) -> None:
    people = consents(shop)
    r = shop.put("/v1/policy", json={"caps": [{"channel": "any", "max": 1, "per_days": 7}]})
    assert r.status_code == 200
    sent = campaign(shop, channel="preferred", offers_per_recipient=3, dry_run=False)
    assert sent["status"] == "done", sent
    rows = recipients(shop, sent["campaign_id"])
    assert len(rows) == sent["recipients"] > 0
    assert len({r["recommendation_id"] for r in rows}) == len(rows)  # each their own
    for row in rows:
        person = people.get(row["customer_id"], {"consent": {}, "preferred_channel": None})
        assert row["channel"] == "web" or person["consent"].get(row["channel"]), row
        if (
            person["preferred_channel"] in ("email", "sms", "phone")
            and person["consent"][person["preferred_channel"]]
        ):
            assert row["channel"] == person["preferred_channel"]
        assert 1 <= len(row["offers"]) <= 3
    second = campaign(shop, channel="preferred", offers_per_recipient=3, dry_run=False)
    assert second["recipients"] == 0  # one contact a week each, already made
    assert second["skipped"]["capped"] == sent["recipients"]
    one = rows[0]
    r = shop.get(
        f"/v1/customers/{one['customer_id']}/offers", params={"channel": one["channel"], "as_of": AS_OF}
    )
    assert r.json()["blocked_by"] == "cap"


def test_a_campaign_needs_a_valid_body(shop: TestClient) -> None:
    r = shop.post("/v1/campaigns", json={"name": "x", "audience": {"segment": "champions,gold"}})
    assert r.status_code == 422
    assert "audience.segment" in r.json()["error"]["message"]
    r = shop.post("/v1/campaigns", json={"name": "x", "offers_per_recipient": 11})
    assert r.status_code == 422
    assert "offers_per_recipient" in r.json()["error"]["message"]
    assert shop.get("/v1/campaigns/nope").status_code == 404


def test_a_campaign_with_a_holdout_reaches_both_arms_and_sends_to_one(shop: TestClient) -> None:
    consents(shop)
    variants = [{"name": "holdout", "weight": 1, "holdout": True}, {"name": "offers", "weight": 1}]
    assert shop.put("/v1/experiments/reach", json={"variants": variants}).status_code == 200
    done = campaign(shop, channel="web", offers_per_recipient=2, dry_run=False)
    assert done["status"] == "done", done
    held = done["skipped"]["holdout"]
    assert held > 0
    assert done["recipients"] > 0
    rows = recipients(shop, done["campaign_id"])
    assert len(rows) == done["recipients"]  # the holdout is sent nothing
    results = {v["name"]: v for v in shop.get("/v1/experiments/reach/results").json()["variants"]}
    assert results["holdout"]["customers"] == held
    assert results["offers"]["customers"] == done["recipients"]
    assert results["holdout"]["control"] is True


def test_a_campaign_left_running_by_a_stopped_process_is_failed_at_start(
    committed_engine: Engine, settings: Settings
) -> None:
    with Session(committed_engine) as s:
        for name, started in (("stale", utcnow() - timedelta(hours=1)), ("fresh", utcnow())):
            s.add(
                Campaign(
                    campaign_id=name,
                    name=name,
                    spec={},
                    status="running",
                    recipients=0,
                    skipped={},
                    progress={},
                    preview=[],
                    created_at=started,
                )
            )
        s.commit()
    with TestClient(create_app(settings)) as client:
        assert client.get("/v1/campaigns/stale").json()["status"] == "failed"
        assert "abandoned" in client.get("/v1/campaigns/stale").json()["error"]
        assert client.get("/v1/campaigns/fresh").json()["status"] == "running"  # may run elsewhere


def test_an_audience_number_given_as_a_boolean_is_refused(client: TestClient) -> None:
    """Found by the fuzzing (bench/reliability): true passed as 1.0."""
    numbers = ("due_within_days", "min_p_active", "max_p_active", "min_expected_purchases")
    for field in (*numbers, "min_expected_spend_90d"):
        body = {
            "name": "n",
            "audience": {field: True},
            "channel": "web",
            "offers_per_recipient": 1,
            "dry_run": True,
        }
        r = client.post("/v1/campaigns", json=body)
        assert r.status_code == 422, (field, r.text)
        assert f"audience.{field}" in r.json()["error"]["message"]


def test_a_campaign_aims_at_the_clients_worth_the_most(shop: TestClient) -> None:
    consents(shop)
    listed = shop.get("/v1/customers", params={"as_of": AS_OF, "limit": 1000}).json()["customers"]
    worth = sorted(c["expected_spend_90d"] for c in listed)[-10]  # the ten worth the most
    valuable = {c["customer_id"] for c in listed if c["expected_spend_90d"] >= worth}
    aimed = campaign(
        shop, channel="web", offers_per_recipient=1, dry_run=True, audience={"min_expected_spend_90d": worth}
    )
    reached = {p["customer_id"] for p in aimed["preview"]}
    assert reached
    assert reached <= valuable
    assert aimed["recipients"] + sum(aimed["skipped"].values()) == len(valuable)
