"""Bad input is refused field by field; every schema-valid body gets a 2xx or a 4xx naming the field."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from unittest.mock import patch
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import Settings
from app.main import create_app
from app.store.tables import Purchase
from tests.api.helpers import ingest, shop_events, train, wait_serving
from tests.api.test_events import count, purchase

NUL = "a\u0000b"


def feedback(i: int, **over: Any) -> dict[str, Any]:
    event = {
        "event_id": f"f{i}",
        "recommendation_id": "r1",
        "customer_id": "c1",
        "product_id": "p1",
        "type": "click",
        "occurred_at": "2011-11-09T12:00:00Z",
    }
    event.update(over)
    return event


@pytest.mark.parametrize("field", ["event_id", "customer_id", "product_id", "order_id"])
def test_a_nul_in_a_purchase_rejects_that_event_alone(
    client: TestClient, session: Session, field: str
) -> None:
    r = client.post("/v1/events/purchases", json={"events": [purchase(0), purchase(1, **{field: NUL})]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["accepted"] == 1
    assert body["rejected"][0]["index"] == 1
    assert body["rejected"][0]["error"].startswith(f"{field}:")
    assert "NUL" in body["rejected"][0]["error"]
    assert count(session, Purchase) == 1


def test_a_nul_in_feedback_customers_or_products_is_422(client: TestClient) -> None:
    r = client.post("/v1/events/feedback", json={"events": [feedback(0), feedback(1, recommendation_id=NUL)]})
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 1
    assert r.json()["rejected"][0]["error"].startswith("recommendation_id:")
    for path, body, where in (
        ("/v1/customers", {"customers": [{"customer_id": NUL}]}, "customers[0].customer_id"),
        ("/v1/customers", {"customers": [{"customer_id": "c", "country": NUL}]}, "customers[0].country"),
        ("/v1/products", {"products": [{"product_id": "p", "name": NUL}]}, "products[0].name"),
        ("/v1/products", {"products": [{"product_id": "p", "category": NUL}]}, "products[0].category"),
    ):
        r = client.put(path, json=body)
        assert r.status_code == 422, (path, r.text)
        assert where in r.json()["error"]["message"]


def test_a_nul_in_a_path_id_is_422(committed_client: TestClient) -> None:
    ingest(committed_client, shop_events(6))
    for method, path in (
        ("GET", "/v1/customers/{}/offers"),
        ("GET", "/v1/customers/{}/profile"),
        ("GET", "/v1/products/{}/similar"),
        ("DELETE", "/v1/customers/{}"),
    ):
        r = committed_client.request(method, path.format(quote(NUL)))
        assert r.status_code == 422, (path, r.text)
        assert r.json()["error"]["code"] == "invalid_request"
    r = committed_client.get("/v1/customers", params={"after": NUL})
    assert r.status_code == 422


def test_null_for_active_is_422_naming_it(client: TestClient) -> None:
    r = client.put("/v1/products", json={"products": [{"product_id": "0", "active": None}]})
    assert r.status_code == 422, r.text
    assert "products[0].active" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    "when",
    [1322000000, "1322000000", 1000000000000, "2011-11-09", "2011-11-09T12", "9 Nov 2011", True, None],
)
def test_only_rfc3339_times_are_read(client: TestClient, when: Any) -> None:
    r = client.post("/v1/events/purchases", json={"events": [purchase(0, occurred_at=when)]})
    assert r.status_code == 422, r.text
    assert "occurred_at" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    ("when", "stored"),
    [
        ("2011-11-09T12:00:00Z", "2011-11-09T12:00:00"),
        ("2011-11-09T12:00:00", "2011-11-09T12:00:00"),  # no offset: UTC
        ("2011-11-09T13:30:00.250+01:30", "2011-11-09T12:00:00.250000"),
        ("2011-11-09t12:00:00z", "2011-11-09T12:00:00"),
    ],
)
def test_rfc3339_times_are_stored_as_utc(
    client: TestClient, session: Session, when: str, stored: str
) -> None:
    r = client.post("/v1/events/purchases", json={"events": [purchase(0, occurred_at=when)]})
    assert r.json()["accepted"] == 1, r.text
    assert session.scalars(select(Purchase.occurred_at)).one().isoformat() == stored


def test_times_in_queries_and_model_requests_are_rfc3339(client: TestClient) -> None:
    for path in ("/v1/customers/c1/offers", "/v1/customers/c1/profile", "/v1/segments", "/v1/customers"):
        # the last one is before year 1 in UTC: no datetime holds it (the fuzzing found it a 500)
        for bad in ("0.5", "1322000000", "2011-11-09", "0001-01-01T00:00:00Z", "0001-01-01T00:00:00.0+03:07"):
            r = client.get(path, params={"as_of": bad})
            assert r.status_code == 422, (path, bad, r.text)
            assert "as_of" in r.json()["error"]["message"]
    bodies: list[Any] = ["0001-01-01T00:00:00Z", 1322000000, "2011-11-09", "0001-01-01T00:00:00+01:00"]
    for bad in bodies:
        r = client.post("/v1/models", json={"as_of": bad})
        assert r.status_code == 422, (bad, r.text)
        assert "as_of" in r.json()["error"]["message"]


def test_fractional_and_float_quantities_are_stored(client: TestClient, session: Session) -> None:
    events = [purchase(0, quantity=2.0), purchase(1, quantity=0.35), purchase(2, quantity=-0.5)]
    r = client.post("/v1/events/purchases", json={"events": events})
    assert r.json() == {"accepted": 3, "duplicates": 0, "rejected": []}, r.text
    stored = dict(session.execute(select(Purchase.event_id, Purchase.quantity)).all())
    assert stored == {"e0": 2.0, "e1": 0.35, "e2": -0.5}
    for bad in (0.0, "2", True, 1e7, -1e7):
        r = client.post("/v1/events/purchases", json={"events": [purchase(3, quantity=bad)]})
        assert r.status_code == 422, (bad, r.text)
        assert "quantity" in r.json()["error"]["message"]


def test_goods_sold_by_weight_are_trained_on_and_profiled(committed_client: TestClient) -> None:
    client = committed_client
    events = shop_events(30)
    for e in events:
        if e["customer_id"] == "c0":
            e["quantity"] = e["quantity"] * 0.35
    ingest(client, events)
    version = train(client, as_of="2011-12-15T00:00:00Z")["version"]
    wait_serving(client, version)
    profile = client.get("/v1/customers/c0/profile", params={"as_of": "2011-12-15T00:00:00Z"}).json()
    spend = sum(e["quantity"] * e["unit_price"] for e in events if e["customer_id"] == "c0")
    assert profile["monetary"] == pytest.approx(spend, abs=0.01)
    assert client.get("/v1/customers/c0/offers").json()["offers"]


def test_a_product_id_with_a_slash_is_served_percent_encoded(committed_client: TestClient) -> None:
    client = committed_client
    events = shop_events(30)
    for e in events:
        e["product_id"] = e["product_id"].replace("-", "/")
        e["customer_id"] = e["customer_id"] + "/x"
    ingest(client, events)
    version = train(client, as_of="2011-12-15T00:00:00Z")["version"]
    wait_serving(client, version)
    r = client.get(f"/v1/products/{quote('k0/1', safe='')}/similar")
    assert r.status_code == 200, r.text
    assert r.json()["product_id"] == "k0/1"
    assert r.json()["model_version"] == version
    assert r.json()["items"]
    assert all(i["product_id"].startswith("k0/") for i in r.json()["items"][:3])
    r = client.get(f"/v1/customers/{quote('c0/x', safe='')}/offers")
    assert r.status_code == 200
    assert r.json()["customer_id"] == "c0/x"
    r = client.get(f"/v1/customers/{quote('c0/x', safe='')}/profile")
    assert r.status_code == 200
    assert r.json()["customer_id"] == "c0/x"
    assert client.delete(f"/v1/customers/{quote('c0/x', safe='')}").status_code == 204
    assert client.get(f"/v1/customers/{quote('c0/x', safe='')}/profile").status_code == 404


def test_a_chunked_body_over_the_limit_is_413(settings: Settings) -> None:
    small = settings.model_copy(update={"max_body_bytes": 100_000})
    chunk = b'{"events": [' + b" " * 50_000

    def body() -> Iterator[bytes]:
        yield chunk
        for _ in range(200):  # 10 MB in all, without a Content-Length
            yield b" " * 50_000

    with TestClient(create_app(small)) as c:
        r = c.post("/v1/events/purchases", content=body(), headers={"content-type": "application/json"})
    assert r.status_code == 413, r.text
    assert r.json()["error"]["code"] == "payload_too_large"


def test_feedback_on_an_unknown_recommendation_is_stored_and_counted_apart(
    committed_client: TestClient,
) -> None:
    client = committed_client
    ingest(client, shop_events(6))
    offered = client.get("/v1/customers/c1/offers").json()
    events = [
        feedback(0, recommendation_id=offered["recommendation_id"]),  # just issued: still queued
        feedback(1, recommendation_id="made-up"),
        feedback(2, recommendation_id="made-up"),
        feedback(3, recommendation_id="0" * 32),  # our format, issued in 1970: not ours
    ]
    r = client.post("/v1/events/feedback", json={"events": events})
    assert r.json() == {"accepted": 4, "duplicates": 0, "rejected": [], "unattributed": 3}, r.text
    r = client.post("/v1/events/feedback", json={"events": events})  # a retry counts nothing again
    assert r.json()["unattributed"] == 0
    client.app.state.recommendation_log.flush()  # type: ignore[attr-defined]
    with patch("app.ingest.events.issued_within", return_value=False):  # long after: read from the store
        r = client.post(
            "/v1/events/feedback",
            json={"events": [feedback(4, recommendation_id=offered["recommendation_id"])]},
        )
    assert r.json()["unattributed"] == 0
    metrics = client.get("/metrics").text
    assert 'nbo_ingest_events_total{kind="feedback",outcome="unattributed"}' in metrics


def test_an_id_with_a_line_break_has_its_routes(committed_client: TestClient) -> None:
    """Ingest stores such an id; its offers, profile and erasure must reach it too."""
    client = committed_client
    customer = "c0\nsecond line"
    events = shop_events(30)
    for e in events:
        if e["customer_id"] == "c0":
            e["customer_id"] = customer
    ingest(client, events)
    quoted = quote(customer, safe="")
    r = client.get(f"/v1/customers/{quoted}/offers")
    assert r.status_code == 200, r.text
    assert r.json()["customer_id"] == customer
    assert client.get(f"/v1/customers/{quoted}/profile").json()["customer_id"] == customer
    assert client.delete(f"/v1/customers/{quoted}").status_code == 204
    assert client.get(f"/v1/customers/{quoted}/profile").status_code == 404
