"""The contact policy under load: three ``nbo serve`` processes on one store each run real
campaigns over the same consenting customers, round after round, while the shop records
impressions of the offers it asked for (by email and on its web pages). Then the contact ledger is
replayed in the order it was written: no campaign send may come when the customer's contacts
already reached a cap. (Impressions are what the shop did: recorded always, counted by the caps.)"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, select

from app.clock import utcnow
from app.store.tables import Contact
from bench.reliability.load import Load, outcomes, send
from bench.reliability.served import Server
from bench.reliability.shop import open_shop, serving

CAPS = {"email": 2, "any": 3}  # contacts per 7 days
POLICY = {
    "caps": [{"channel": c, "max": m, "per_days": 7} for c, m in CAPS.items()],
    "cooldown_after_dismiss_days": 0,
    "max_impressions_without_click": 1000,
}


def run(
    database_url: str, folder: Path, *, customers: int = 300, rounds: int = 4, shop_threads: int = 2
) -> dict[str, Any]:
    shop = open_shop(database_url, folder)
    others = [Server(database_url, folder) for _ in range(2)]
    servers = [shop.server, *others]
    try:
        for s in others:
            s.start()
            serving(s.base, shop.version)
        reached = shop.customers[:customers]
        with httpx.Client(base_url=shop.server.base, timeout=60) as http:
            consent = [
                {"customer_id": c, "consent": {"email": True}, "preferred_channel": "email"} for c in reached
            ]
            assert http.put("/v1/customers", json={"customers": consent}).status_code == 200
            assert http.put("/v1/policy", json=POLICY).status_code == 200
        time.sleep(3.0)  # every process reads the policy at its next poll
        serial = itertools.count()

        def impression(http: httpx.Client, rng: random.Random) -> tuple[str, httpx.Response | None]:
            customer, channel = rng.choice(reached), rng.choice(("email", "web"))
            r = send(http, "GET", f"/v1/customers/{customer}/offers?channel={channel}&limit=3")
            if r is None or r.status_code != 200 or not r.json()["contactable"]:
                return "offers (not contactable)" if r is not None else "offers", r
            event = {
                "event_id": f"policy-{next(serial)}",
                "recommendation_id": r.json()["recommendation_id"],
                "customer_id": customer,
                "product_id": r.json()["offers"][0]["product_id"],
                "type": "impression",
                "channel": channel,
                "occurred_at": utcnow().isoformat() + "Z",
            }
            return "impression", send(http, "POST", "/v1/events/feedback", json={"events": [event]})

        campaigns: list[dict[str, Any]] = []
        loads = [
            Load(s.base, [(1, impression)], threads=shop_threads, seed=21 + i) for i, s in enumerate(servers)
        ]
        for load in loads:
            load.__enter__()
        try:
            for n in range(rounds):
                threads = [
                    threading.Thread(
                        target=lambda s=s, name=f"round{n}-{k}": campaigns.append(campaign(s.base, name))
                    )
                    for k, s in enumerate(servers)
                ]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
        finally:
            for load in loads:
                load.stop()
    finally:
        for s in servers:
            s.stop()
    answers = [a for load in loads for a in load.answers]
    return {
        "processes": len(servers),
        "customers": len(reached),
        "caps": CAPS,
        "campaigns": len(campaigns),
        "campaigns_failed": [c for c in campaigns if c.get("status") != "done"],
        "campaign_sends": sum(c.get("recipients", 0) for c in campaigns),
        "campaign_capped": sum(c.get("skipped", {}).get("capped", 0) for c in campaigns),
        "requests": outcomes(answers),
        **replay(database_url),
    }


def campaign(base: str, name: str) -> dict[str, Any]:
    body = {"name": name, "audience": {"consent": "email"}, "channel": "email", "dry_run": False}
    with httpx.Client(base_url=base, timeout=120) as http:
        row = http.post("/v1/campaigns", json=body).json()
        while row.get("status") == "running":
            time.sleep(0.1)
            row = http.get(f"/v1/campaigns/{row['campaign_id']}").json()
    return dict(row)


def replay(database_url: str) -> dict[str, Any]:
    """The ledger in the order it was written (all of it within one cap's window): each campaign
    send against the contacts before it."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(Contact.customer_id, Contact.channel, Contact.campaign_id).order_by(Contact.id)
            ).all()
    finally:
        engine.dispose()
    seen: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    over = 0  # campaign sends made when a cap was already reached
    impressions_beyond = 0  # impressions the shop recorded beyond a cap (its own doing)
    for customer, channel, campaign_id in rows:
        before = seen[customer]
        full = before[channel] >= CAPS.get(channel, 10**9) or sum(before.values()) >= CAPS["any"]
        if full:
            if campaign_id is not None:
                over += 1
            else:
                impressions_beyond += 1
        before[channel] += 1
    return {
        "contacts": len(rows),
        "sends_beyond_a_cap": over,
        "impressions_beyond_a_cap": impressions_beyond,
        "most_email_contacts": max((s["email"] for s in seen.values()), default=0),
    }
