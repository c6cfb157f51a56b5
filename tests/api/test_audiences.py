from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.api.helpers import AS_OF, MOMENT

FIELDS = (
    "segment",
    "recency_days",
    "frequency",
    "monetary",
    "p_active",
    "expected_purchases_30d",
    "expected_spend_90d",
)


def everyone(client: TestClient, page: int = 7, **filters: Any) -> list[dict[str, Any]]:
    """Every matching customer, page by page."""
    found: list[dict[str, Any]] = []
    after = None
    while True:
        params = {"as_of": AS_OF, "limit": page, **filters, **({"after": after} if after else {})}
        r = client.get("/v1/customers", params=params)
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["customers"]) <= page
        found += body["customers"]
        after = body["next_after"]
        if after is None:
            return found
        assert after == body["customers"][-1]["customer_id"]


def profiles(client: TestClient, ids: list[str]) -> dict[str, dict[str, Any]]:
    out = {}
    for customer_id in ids:
        r = client.get(f"/v1/customers/{customer_id}/profile", params={"as_of": AS_OF})
        assert r.status_code == 200, r.text
        out[customer_id] = r.json()
    return out


def test_the_audience_agrees_with_the_profiles(shop: TestClient) -> None:
    listed = everyone(shop)
    ids = [c["customer_id"] for c in listed]
    assert ids == sorted(set(ids))  # in id order, each once, across pages
    assert len(ids) == 45 + 4  # the shop's customers, the one-order, returns-only and refill ones, a lead
    known = profiles(shop, ids)
    for row in listed:
        profile = known[row["customer_id"]]
        assert {f: row[f] for f in FIELDS} == {f: profile[f] for f in FIELDS}
        assert row["preferred_channel"] == profile["preferred_channel"]

    # each filter selects exactly the profiles that match it
    by_segment = {
        s: {i for i in ids if known[i]["segment"] == s} for s in {p["segment"] for p in known.values()}
    }
    assert {"prospect", "new"} <= set(by_segment)
    for name, members in by_segment.items():
        assert {c["customer_id"] for c in everyone(shop, segment=name)} == members
    pair = ",".join(sorted(by_segment)[:2])
    assert {c["customer_id"] for c in everyone(shop, segment=pair)} == set().union(
        *(by_segment[s] for s in sorted(by_segment)[:2])
    )
    likely = {i for i in ids if known[i]["p_active"] >= 0.5}
    assert 0 < len(likely) < len(ids)
    assert {c["customer_id"] for c in everyone(shop, min_p_active=0.5)} == likely
    assert {c["customer_id"] for c in everyone(shop, max_p_active=0.5)} == (
        {i for i in ids if known[i]["p_active"] <= 0.5}
    )
    busy = {i for i in ids if known[i]["expected_purchases_30d"] >= 0.3}
    assert {c["customer_id"] for c in everyone(shop, min_expected_purchases=0.3)} == busy
    spends = sorted(known[i]["expected_spend_90d"] for i in ids)
    worth = spends[len(spends) // 2]  # the better half: a campaign aimed at the clients worth the most
    valuable = {i for i in ids if known[i]["expected_spend_90d"] >= worth}
    assert 0 < len(valuable) < len(ids)
    assert {c["customer_id"] for c in everyone(shop, min_expected_spend_90d=worth)} == valuable

    # a refill due within 30 days: what each profile's due_products says
    horizon = MOMENT + timedelta(days=30)
    due = {
        i
        for i in ids
        if any(
            datetime.fromisoformat(d["due_at"].removesuffix("Z")) <= horizon for d in known[i]["due_products"]
        )
    }
    assert "refiller" in due
    assert {c["customer_id"] for c in everyone(shop, due_within_days=30)} == due


def test_contact_policy_and_bad_filters(shop: TestClient) -> None:
    consent = {"customers": [{"customer_id": "c4", "consent": {"email": True, "sms": False}}]}
    assert shop.put("/v1/customers", json=consent).status_code == 200
    assert [c["customer_id"] for c in everyone(shop, consent="email")] == ["c4"]
    assert everyone(shop, consent="sms") == []
    assert [c["customer_id"] for c in everyone(shop, channel="email")] == ["lead"]
    assert [c["customer_id"] for c in everyone(shop, channel="email", segment="prospect")] == ["lead"]
    assert everyone(shop, channel="sms", segment="prospect") == []  # c0 prefers sms, and buys

    for params, field in (
        ({"segment": "vip"}, "segment"),
        ({"channel": "fax"}, "channel"),
        ({"consent": "web"}, "consent"),
        ({"limit": 0}, "limit"),
        ({"min_p_active": 2}, "min_p_active"),
        ({"due_within_days": -1}, "due_within_days"),
    ):
        r = shop.get("/v1/customers", params=params)
        assert r.status_code == 422, params
        assert field in r.json()["error"]["message"]
