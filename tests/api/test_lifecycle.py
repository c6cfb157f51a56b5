"""Model versions under real use: what may replace a working version, and when a process serves it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from app.clock import utcnow
from app.config import Settings
from app.main import create_app
from tests.api.helpers import event, ingest, shop_events, train
from tests.conftest import empty_tables


@pytest.fixture
def slow_poll(settings: Settings, engine: object) -> Iterator[TestClient]:
    """A process whose poll comes too late to hide anything: what it serves, it serves at once."""
    app = create_app(settings.model_copy(update={"model_poll_seconds": 3600.0}))
    try:
        with TestClient(app) as c:
            yield c
    finally:
        empty_tables(engine)  # type: ignore[arg-type]


def offers(client: TestClient, customer: str = "c1", limit: int = 10) -> dict[str, object]:
    r = client.get(f"/v1/customers/{customer}/offers", params={"limit": limit})
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_before_any_version_offers_come_from_the_store_at_once(slow_poll: TestClient) -> None:
    assert offers(slow_poll)["offers"] == []  # an empty store has nothing to offer
    ingest(slow_poll, shop_events(12))
    answer = offers(slow_poll, "prospect")
    assert answer["model_version"] is None
    assert len(answer["offers"]) == 10  # type: ignore[arg-type]


def test_a_version_is_served_before_it_is_reported_active(slow_poll: TestClient) -> None:
    client = slow_poll
    ingest(client, shop_events(30))
    first = train(client, as_of="2011-12-15T00:00:00Z")
    assert first["active"]
    assert offers(client)["model_version"] == first["version"]  # no wait for a poll
    assert offers(client, "prospect")["offers"]
    second = train(client, as_of="2011-12-16T00:00:00Z")
    assert second["active"]
    assert offers(client)["model_version"] == second["version"]
    r = client.post(f"/v1/models/{first['version']}/activate")
    assert r.status_code == 200
    assert r.json()["active"]
    assert offers(client)["model_version"] == first["version"]
    similar = client.get("/v1/products/k0-1/similar").json()
    assert similar["model_version"] == first["version"]


def test_activations_succeed_while_others_write(slow_poll: TestClient) -> None:
    """Each offers answer is logged by a writer of its own and purchases keep coming: an activation
    waits for their commits and never fails for them (on SQLite a transaction that read first could)."""
    client = slow_poll
    ingest(client, shop_events(30))
    pair = [train(client, as_of=f"2011-12-{day}T00:00:00Z")["version"] for day in (15, 16)]
    stop = threading.Event()

    when = datetime(2011, 12, 20)

    def write(worker: int) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            client.get(f"/v1/customers/c{n % 30}/offers")
            client.app.state.recommendation_log.flush()  # type: ignore[attr-defined]
            client.post(
                "/v1/events/purchases",
                json={"events": [event(f"w{worker}-{n}", f"c{n % 30}", "k0-1", 1, when, f"w{worker}-{n}")]},
            )

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    try:
        statuses = [client.post(f"/v1/models/{pair[i % 2]}/activate").status_code for i in range(40)]
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert statuses == [200] * 40


def test_an_empty_version_never_replaces_a_working_one(slow_poll: TestClient) -> None:
    client = slow_poll
    ingest(client, shop_events(30))
    working = train(client, as_of="2011-12-15T00:00:00Z")["version"]
    for as_of in ("1995-01-01T00:00:00Z", "2011-06-01T00:00:00Z"):  # nothing, then one day's lines
        empty = train(client, as_of=as_of)
        assert not empty["active"], empty
        assert "left inactive" in empty["metrics"]["gate"]["reason"]
    # one purchase dated now: nobody in the evaluation window before it
    ingest(client, [event("now-1", "c1", "k0-1", 1, utcnow() - timedelta(minutes=1), "now-o1")])
    late = train(client)
    assert not late["active"], late["metrics"]["gate"]
    answer = offers(client)
    assert answer["model_version"] == working
    assert len(answer["offers"]) == 10  # type: ignore[arg-type]
    assert client.get("/v1/products/k0-1/similar").json()["items"]
    assert client.get("/readyz").status_code == 200


def test_a_version_of_few_products_still_fills_every_list(
    slow_poll: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = slow_poll
    day = datetime(2011, 6, 1, 10)
    ingest(client, [event(f"a{i}", f"c{i}", "only", 1, day, f"o{i}") for i in range(3)])
    version = train(client, as_of="2011-06-02T00:00:00Z")
    assert version["active"]
    ingest(client, shop_events(12))  # products first sold after the version
    monkeypatch.setattr("app.serving.loaded.FILL_REFRESH_SECONDS", 0.0)
    client.app.state.serving.sync()  # type: ignore[attr-defined]  # one poll
    for customer in ("c1", "prospect"):
        answer = offers(client, customer, limit=12)
        assert answer["model_version"] == version["version"]
        products = [o["product_id"] for o in answer["offers"]]  # type: ignore[attr-defined]
        assert len(products) == 12 == len(set(products)), products
        scores = [o["score"] for o in answer["offers"]]  # type: ignore[attr-defined]
        assert scores == sorted(scores, reverse=True)
    excluded = client.get("/v1/customers/c1/offers", params={"limit": 12, "exclude_purchased": True}).json()
    bought = {e["product_id"] for e in shop_events(12) if e["customer_id"] == "c1"} | {"only"}
    assert not bought & {o["product_id"] for o in excluded["offers"]}
