from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.store.tables import Customer, Feedback, Product, Purchase


def purchase(i: int, **over: Any) -> dict[str, Any]:
    event = {
        "event_id": f"e{i}",
        "customer_id": f"c{i % 3}",
        "product_id": f"p{i % 5}",
        "quantity": 2,
        "unit_price": 3.5,
        "occurred_at": "2011-11-09T12:00:00Z",
        "order_id": f"o{i}",
    }
    event.update(over)
    return event


def count(session: Session, model: Any) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_batch_is_stored_and_creates_customers_and_products(client: TestClient, session: Session) -> None:
    r = client.post("/v1/events/purchases", json={"events": [purchase(i) for i in range(10)]})
    assert r.status_code == 200, r.text
    assert r.json() == {"accepted": 10, "duplicates": 0, "rejected": []}
    assert count(session, Purchase) == 10
    assert count(session, Customer) == 3
    assert count(session, Product) == 5
    stored = session.scalars(select(Purchase).where(Purchase.event_id == "e1")).one()
    assert stored.occurred_at.isoformat() == "2011-11-09T12:00:00"
    assert (stored.quantity, stored.unit_price, stored.order_id) == (2, 3.5, "o1")


def test_retry_counts_duplicates_and_changes_nothing(client: TestClient, session: Session) -> None:
    body = {"events": [purchase(i) for i in range(5)]}
    assert client.post("/v1/events/purchases", json=body).json()["accepted"] == 5
    changed = {"events": [purchase(i, quantity=99) for i in range(5)]}
    assert client.post("/v1/events/purchases", json=changed).json() == {
        "accepted": 0,
        "duplicates": 5,
        "rejected": [],
    }
    assert count(session, Purchase) == 5
    assert session.scalar(select(func.max(Purchase.quantity))) == 2


def test_duplicates_within_one_batch_stored_once(client: TestClient, session: Session) -> None:
    body = {"events": [purchase(1), purchase(1, quantity=7), purchase(2), purchase(1)]}
    assert client.post("/v1/events/purchases", json=body).json() == {
        "accepted": 2,
        "duplicates": 2,
        "rejected": [],
    }
    assert count(session, Purchase) == 2


def test_bad_rows_rejected_by_index_good_rows_stored(client: TestClient, session: Session) -> None:
    events = [
        purchase(0),
        purchase(1, quantity="two"),
        purchase(2),
        purchase(3, event_id=""),
        purchase(4, customer_id="x" * 300),
        purchase(5, occurred_at="not a time"),
        "not an object",
        purchase(7, quantity=0),
        purchase(8, unit_price=-1),
        purchase(9, occurred_at="1850-01-01T00:00:00Z"),
        purchase(10, occurred_at="2999-01-01T00:00:00Z"),
        {k: v for k, v in purchase(11).items() if k != "product_id"},
        purchase(12, quantity=-3),
    ]
    r = client.post("/v1/events/purchases", json={"events": events})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["accepted"] == 3
    rejected = {x["index"]: x["error"] for x in body["rejected"]}
    assert sorted(rejected) == [1, 3, 4, 5, 6, 7, 8, 9, 10, 11]
    assert "quantity" in rejected[1]
    assert "event_id" in rejected[3]
    assert "customer_id" in rejected[4]
    assert "occurred_at" in rejected[5]
    assert "product_id" in rejected[11]
    assert count(session, Purchase) == 3
    returned = session.scalars(select(Purchase).where(Purchase.event_id == "e12")).one()
    assert returned.quantity == -3


def _error(r: Any) -> dict[str, str]:
    body = r.json()
    assert set(body) == {"error"}
    assert {"code", "message"} <= set(body["error"])
    return dict(body["error"])


def test_too_many_events_is_413(client: TestClient, session: Session) -> None:
    r = client.post("/v1/events/purchases", json={"events": [purchase(i) for i in range(1001)]})
    assert r.status_code == 413
    assert "events" in _error(r)["message"]
    assert count(session, Purchase) == 0


def test_exactly_1000_events_accepted(client: TestClient) -> None:
    r = client.post("/v1/events/purchases", json={"events": [purchase(i) for i in range(1000)]})
    assert r.status_code == 200
    assert r.json()["accepted"] == 1000


def test_malformed_json_is_400(client: TestClient) -> None:
    r = client.post(
        "/v1/events/purchases", content=b'{"events": [', headers={"content-type": "application/json"}
    )
    assert r.status_code == 400
    assert _error(r)["code"] == "invalid_json"


def test_body_shape_errors_name_the_field(client: TestClient) -> None:
    r = client.post("/v1/events/purchases", json={"evnts": []})
    assert r.status_code == 422
    assert "events" in _error(r)["message"]
    r = client.post("/v1/events/purchases", json={"events": "nope"})
    assert r.status_code == 422
    assert "events" in _error(r)["message"]


def test_single_bad_event_is_422_naming_field(client: TestClient, session: Session) -> None:
    cases = {
        "quantity": purchase(1, quantity="2"),
        "event_id": purchase(1, event_id=""),
        "customer_id": purchase(1, customer_id="c" * 300),
        "unit_price": purchase(1, unit_price=float("nan")),
        "product_id": purchase(1, product_id=17),
    }
    for field, event in cases.items():
        r = client.post(
            "/v1/events/purchases",
            content=json.dumps({"events": [event]}).encode(),  # json.dumps writes NaN literally
            headers={"content-type": "application/json"},
        )
        assert r.status_code == 422, (field, r.text)
        err = _error(r)
        assert err["code"] == "invalid_events"
        assert "events[0]" in err["message"]
        assert field in err["message"], (field, err)
    assert count(session, Purchase) == 0


def test_body_size_limit_is_413(client: TestClient) -> None:
    big = b'{"events": [' + b" " * (5 * 1024 * 1024) + b"]}"
    r = client.post("/v1/events/purchases", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert _error(r)["code"] == "payload_too_large"


def test_feedback_ingest(client: TestClient, session: Session) -> None:
    events = [
        {
            "event_id": f"f{i}",
            "recommendation_id": "r1",
            "customer_id": "c1",
            "product_id": "p1",
            "type": t,
            "occurred_at": "2011-11-09T12:00:00+01:00",
            "channel": "email",
        }
        for i, t in enumerate(["impression", "click", "conversion", "dismiss"])
    ]
    events.append({**events[0], "event_id": "f9", "type": "like"})
    r = client.post("/v1/events/feedback", json={"events": events})
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 4
    assert [x["index"] for x in r.json()["rejected"]] == [4]
    assert "type" in r.json()["rejected"][0]["error"]
    stored = session.scalars(select(Feedback).where(Feedback.event_id == "f0")).one()
    assert stored.occurred_at.isoformat() == "2011-11-09T11:00:00"
    again = client.post("/v1/events/feedback", json={"events": events[:4]})
    assert again.json() == {"accepted": 0, "duplicates": 4, "rejected": [], "unattributed": 0}


def test_concurrent_duplicate_batches_store_each_event_once(committed_client: TestClient) -> None:
    from sqlalchemy.orm import sessionmaker

    body = {"events": [purchase(i) for i in range(200)]}

    def send(_: int) -> dict[str, Any]:
        r = committed_client.post("/v1/events/purchases", json=body)
        assert r.status_code == 200, r.text
        return dict(r.json())

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(send, range(6)))
    assert sum(r["accepted"] for r in results) == 200
    assert all(r["accepted"] + r["duplicates"] == 200 for r in results)
    factory: sessionmaker[Session] = committed_client.app.state.session_factory  # type: ignore[attr-defined]
    with factory() as s:
        assert count(s, Purchase) == 200
