"""Erasure under load: a customer with purchases, a consent record, offers, feedback, contacts and a
campaign send, held by two kept versions, is erased while offers, profiles, /similar and ingest for
them keep coming. Then a rollback to a version trained with them is tried, and every table (every
text and JSON column) and every file kept under the models folder is searched for their id."""

from __future__ import annotations

import itertools
import random
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import JSON, ColumnElement, String, Text, cast, create_engine, or_, select

from app.clock import utcnow
from app.store.tables import Base
from bench.reliability.load import Load, outcomes, send
from bench.reliability.shop import open_shop, trained

LAST_DAY = "2011-12-09T12:00:00Z"  # the sample's last day: the store's clock stays where it was
PAIR = ("erasure-solo-a", "erasure-solo-b")  # bought together by the erased customer alone


def run(database_url: str, folder: Path) -> dict[str, Any]:
    shop = open_shop(database_url, folder)
    base, models = shop.server.base, folder / "models"
    products = set(shop.products)
    # An id no product has: a search of the artifacts for it finds customers only.
    gone = next(c for c in shop.customers[5:] if c not in products)
    http = httpx.Client(base_url=base, timeout=120)
    try:
        kept = prepare(http, gone)
        sent_at: dict[str, float] = {}  # racing purchase event id → when its request was sent
        serial = itertools.count()

        def offers(c: httpx.Client, rng: random.Random) -> tuple[str, httpx.Response | None]:
            return "offers", send(c, "GET", f"/v1/customers/{gone}/offers?channel=email")

        def profile(c: httpx.Client, rng: random.Random) -> tuple[str, httpx.Response | None]:
            return "profile", send(c, "GET", f"/v1/customers/{gone}/profile")

        def similar(c: httpx.Client, rng: random.Random) -> tuple[str, httpx.Response | None]:
            r = send(c, "GET", f"/v1/products/{PAIR[0]}/similar")
            paired = r is not None and r.status_code == 200 and PAIR[1] in r.text
            return ("similar with the pair" if paired else "similar"), r

        def ingest(c: httpx.Client, rng: random.Random) -> tuple[str, httpx.Response | None]:
            event = purchase(gone, rng.choice(shop.products[:50]), f"erasure-race-{next(serial)}")
            sent_at[event["event_id"]] = time.monotonic()
            return "ingest", send(c, "POST", "/v1/events/purchases", json={"events": [event]})

        similar_before = neighbours(http)
        load = Load(base, [(3, offers), (1, profile), (2, similar), (2, ingest)], threads=4, seed=13)
        with load:
            time.sleep(1.0)
            deleted_wall, deleted = utcnow(), time.monotonic()
            status = http.delete(f"/v1/customers/{gone}").status_code
            returned = time.monotonic()
            similar_at_once = neighbours(http)
            time.sleep(1.0)  # the race goes on after the DELETE: ingest about the id comes again
        late = {e for e, t in sent_at.items() if t > deleted}  # sent after the DELETE: a new customer
        rows = mentions(database_url, gone)
        left = [r for r in rows if not after_the_delete(r, late, deleted_wall)]
        rollback = {v: http.post(f"/v1/models/{v}/activate").status_code for v in kept}
        # The same id seen again (what the racing requests sent after the DELETE) is erased again,
        # with nothing running: then nothing about it may be left anywhere, once retrained.
        again = http.delete(f"/v1/customers/{gone}").status_code
        settled = settle(http)
        rows_after = mentions(database_url, gone)
        rollback_after = {v: http.post(f"/v1/models/{v}/activate").status_code for v in kept}
        profile_after = http.get(f"/v1/customers/{gone}/profile").status_code
    finally:
        http.close()
        shop.server.stop()
    answers = load.answers
    files = [str(p.relative_to(models)) for p in sorted(models.rglob("*")) if p.is_file() and holds(p, gone)]
    return {
        "erased_status": status,
        "delete_seconds": round(returned - deleted, 2),
        "race": outcomes(answers),
        # A 404 is right for their profile once erased; no answer, or a 5xx, never is.
        "race_failed": sum(1 for a in answers if a.status is None or a.status >= 500),
        "similar_before": similar_before,
        "similar_at_once": similar_at_once,
        "similar_with_the_pair_after_delete": sum(
            1 for a in answers if a.kind == "similar with the pair" and a.sent > returned
        ),
        "rollback_statuses": rollback,
        "rollback_statuses_after_retrain": rollback_after,
        "new_version": settled,
        "rows_mentioning": len(rows),
        "rows_left_from_before": [f"{t}: {r}" for t, r in left][:10],
        "racing_events_sent_after_delete": len(late),
        "erased_again_status": again,
        "rows_mentioning_after_retrain": [f"{t}: {r}" for t, r in rows_after][:10],
        "files_holding_the_id": files,
        "profile_after": profile_after,
        "kept_versions_before": kept,
    }


def purchase(customer: str, product: str, event_id: str, order: str | None = None) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "customer_id": customer,
        "product_id": product,
        "quantity": 2,
        "unit_price": 3.5,
        "occurred_at": LAST_DAY,
        "order_id": order or event_id,
    }


def prepare(http: httpx.Client, gone: str) -> list[str]:
    """Rows of every kind about ``gone`` and two versions trained with them; both versions."""
    pair = [purchase(gone, p, f"erasure-{p}", "erasure-solo") for p in PAIR]
    assert http.post("/v1/events/purchases", json={"events": pair}).json()["accepted"] == 2
    consent = {"customers": [{"customer_id": gone, "consent": {"email": True}, "preferred_channel": "email"}]}
    assert http.put("/v1/customers", json=consent).status_code == 200
    versions = [str(trained(str(http.base_url))["version"]) for _ in range(2)]
    answer = http.get(f"/v1/customers/{gone}/offers?channel=email").json()
    feedback = [
        {
            "event_id": f"erasure-{kind}",
            "recommendation_id": answer["recommendation_id"],
            "customer_id": gone,
            "product_id": answer["offers"][0]["product_id"],
            "type": kind,
            "channel": "email",
            "occurred_at": LAST_DAY,
        }
        for kind in ("impression", "click")
    ]
    assert http.post("/v1/events/feedback", json={"events": feedback}).json()["accepted"] == 2
    body = {
        "name": "erasure",
        "audience": {"consent": "email"},
        "channel": "email",
        "offers_per_recipient": 2,
        "dry_run": False,
    }
    campaign = http.post("/v1/campaigns", json=body).json()["campaign_id"]
    while http.get(f"/v1/campaigns/{campaign}").json()["status"] == "running":
        time.sleep(0.1)
    return versions


def neighbours(http: httpx.Client) -> list[str]:
    return [i["product_id"] for i in http.get(f"/v1/products/{PAIR[0]}/similar").json()["items"]]


def settle(http: httpx.Client, timeout: float = 300.0) -> dict[str, Any]:
    """The newest version once no version trains and it is active, with every version's status."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = http.get("/v1/models").json()["models"]
        if rows[0]["active"] and all(r["status"] != "training" for r in rows):
            return {"active": rows[0]["version"], "versions": {r["version"]: r["status"] for r in rows}}
        time.sleep(0.2)
    raise RuntimeError("the erasure's retrain did not replace the active version")


def mentions(database_url: str, customer_id: str) -> list[tuple[str, dict[str, Any]]]:
    """Every row of every table with a text or JSON column that is, or holds, the id."""
    found: list[tuple[str, dict[str, Any]]] = []
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            for table in Base.metadata.sorted_tables:
                tests: list[ColumnElement[bool]] = []
                for column in table.columns:
                    if isinstance(column.type, JSON):
                        tests.append(cast(column, Text).like(f'%"{customer_id}"%'))
                    elif isinstance(column.type, String | Text):
                        tests.append(column == customer_id)
                if tests:
                    for row in conn.execute(select(table).where(or_(*tests))).mappings():
                        found.append((table.name, dict(row)))
    finally:
        engine.dispose()
    return found


def after_the_delete(found: tuple[str, dict[str, Any]], late: set[str], deleted_wall: Any) -> bool:
    """A row a request sent after the DELETE wrote (the same id again is a new customer)."""
    table, row = found
    if table == "purchases":
        return row["event_id"] in late
    if table in ("customers", "recommendations"):
        return bool(row["created_at"] >= deleted_wall)
    return False


def holds(path: Path, customer_id: str) -> bool:
    return f'"{customer_id}"'.encode() in path.read_bytes()
