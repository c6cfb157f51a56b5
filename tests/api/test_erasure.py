from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app.clock import utcnow
from app.config import Settings
from app.main import create_app
from app.ml import artifact
from app.store.recommendations import RecommendationLog, new_recommendation_id
from app.store.tables import Campaign, Contact, Customer, Feedback, Purchase, Recommendation
from tests.api.helpers import ingest, shop_events, train, wait_serving
from tests.api.test_offers import offers

GONE = "c1"


def rows_about(engine: Engine, customer_id: str) -> dict[str, int]:
    with Session(engine) as s:
        return {
            table.__tablename__: int(
                s.scalar(select(func.count()).select_from(table).where(table.customer_id == customer_id)) or 0
            )
            for table in (Customer, Purchase, Feedback, Recommendation, Contact)
        }


def previewed(engine: Engine) -> list[str]:
    with Session(engine) as s:
        return [p["customer_id"] for preview in s.scalars(select(Campaign.preview)) for p in preview]


def settled(client: TestClient, after: str, timeout: float = 60.0) -> dict[str, Any]:
    """The newest version, once it is newer than ``after`` and has finished training."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        newest = client.get("/v1/models").json()["models"][0]
        if newest["version"] != after and newest["status"] != "training":
            return dict(newest)
        time.sleep(0.1)
    raise AssertionError("no new version after the erasure")


def test_erasure_leaves_no_trace(committed_client: TestClient, engine: Engine) -> None:
    client = committed_client
    ingest(client, shop_events())
    put = {"customers": [{"customer_id": GONE, "country": "France", "consent": {"email": True}}]}
    assert client.put("/v1/customers", json=put).status_code == 200
    first = train(client)
    wait_serving(client, first["version"])
    answer = offers(client, GONE, limit=5)
    assert answer["strategy"] == "personalized"
    feedback = {
        "event_id": "f1",
        "recommendation_id": answer["recommendation_id"],
        "customer_id": GONE,
        "product_id": answer["offers"][0]["product_id"],
        "type": "click",
        "occurred_at": "2011-12-02T10:00:00Z",
    }
    seen = {**feedback, "event_id": "f0", "type": "impression", "channel": "email"}  # a contact
    assert client.post("/v1/events/feedback", json={"events": [seen, feedback]}).json()["accepted"] == 2
    assert rows_about(engine, GONE)["contacts"] == 1
    campaign = {"name": "c", "audience": {"consent": "email"}, "channel": "email", "dry_run": False}
    sent = client.post("/v1/campaigns", json=campaign).json()["campaign_id"]
    while client.get(f"/v1/campaigns/{sent}").json()["status"] == "running":
        time.sleep(0.05)
    assert previewed(engine) == [GONE]
    assert client.get(f"/v1/customers/{GONE}/profile").status_code == 200
    segments_before = client.get("/v1/segments").json()
    deadline = time.monotonic() + 10
    while rows_about(engine, GONE)["recommendations"] == 0:  # written off the request's path
        assert time.monotonic() < deadline
        time.sleep(0.05)

    r = client.delete(f"/v1/customers/{GONE}")
    assert r.status_code == 204
    assert r.content == b""
    assert set(rows_about(engine, GONE).values()) == {0}
    assert previewed(engine) == []  # the campaign's first recipients, as shown
    assert client.get(f"/v1/customers/{GONE}/profile").status_code == 404
    segments_after = client.get("/v1/segments").json()
    assert sum(s["customers"] for s in segments_after["segments"]) == (
        sum(s["customers"] for s in segments_before["segments"]) - 1
    )
    assert offers(client, GONE)["strategy"].startswith("popular")  # a stranger now
    assert client.delete(f"/v1/customers/{GONE}").status_code == 204  # erasing twice is no error

    # The erasure trained a version without them: similar products and the next model.
    second = settled(client, first["version"])
    assert second["status"] == "ready"
    assert second["active"] is True
    models_dir = client.app.state.settings.models_dir  # type: ignore[attr-defined]
    model, _ = artifact.load(models_dir / second["version"])
    assert model.customers.ids.get(GONE) is None
    # The version trained with them is retired once replaced: it can never serve again.
    retired = client.get(f"/v1/models/{first['version']}").json()
    assert retired["status"] == "retired"
    assert "erased" in retired["error"]
    assert not (models_dir / first["version"]).exists()
    refused = client.post(f"/v1/models/{first['version']}/activate")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "not_ready"


def test_their_co_purchases_leave_similar_at_once(
    committed_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two products only they bought together are neighbours until the DELETE, and not from its
    answer on, while the version trained with them still serves (its retrain held back here)."""
    client = committed_client
    solo = [
        {**shop_events()[0], "event_id": f"solo-{p}", "customer_id": GONE, "product_id": p}
        for p in ("solo-a", "solo-b")
    ]
    ingest(client, [*shop_events(), *solo])
    first = train(client)
    wait_serving(client, first["version"])

    def neighbours() -> list[str]:
        r = client.get("/v1/products/solo-a/similar")
        assert r.json()["model_version"] == first["version"]
        return [i["product_id"] for i in r.json()["items"]]

    assert neighbours()[0] == "solo-b"
    before = neighbours_of(client, "k2-3")  # a product of another cluster than theirs
    retrains: list[None] = []
    monkeypatch.setattr(client.app.state.trainer, "retrain", lambda: retrains.append(None))  # type: ignore[attr-defined]
    assert client.delete(f"/v1/customers/{GONE}").status_code == 204
    assert retrains == [None]
    assert neighbours() == []
    # Others' co-purchases stay (the latent-factor fill, fitted with them, waits for the retrain).
    after = neighbours_of(client, "k2-3")
    assert after
    assert set(after) <= set(before)
    assert {p.split("-")[0] for p in after} == {"k2"}


def neighbours_of(client: TestClient, product_id: str) -> list[str]:
    return [i["product_id"] for i in client.get(f"/v1/products/{product_id}/similar").json()["items"]]


def test_erasure_needs_the_admin_scope(settings: Settings) -> None:
    keys = {"k-shop": frozenset({"read", "write"}), "k-ops": frozenset({"admin"})}
    with TestClient(create_app(settings.model_copy(update={"api_keys": keys}))) as c:
        assert c.delete("/v1/customers/x").status_code == 401
        shop = {"Authorization": "Bearer k-shop"}
        assert c.delete("/v1/customers/x", headers=shop).status_code == 403
        ops = {"Authorization": "Bearer k-ops"}
        assert c.delete("/v1/customers/x", headers=ops).status_code == 204
        r = c.delete("/v1/customers/" + "x" * 257, headers=ops)
        assert r.status_code == 422
        assert "customer_id" in r.json()["error"]["message"]
        # nothing was there: no training was started for it
        assert c.get("/v1/models", headers=ops).json()["models"] == []


def test_erasure_retires_every_kept_version_that_holds_them(committed_client: TestClient) -> None:
    client = committed_client
    ingest(client, shop_events())
    older = train(client)
    ingest(client, [{**shop_events()[0], "event_id": "later-1", "occurred_at": "2011-12-03T10:00:00Z"}])
    newer = train(client)  # same settings: it replaces the older one
    assert newer["active"] is True
    models_dir = client.app.state.settings.models_dir  # type: ignore[attr-defined]

    assert client.delete(f"/v1/customers/{GONE}").status_code == 204
    # At once, within the request: the inactive version that held them is gone for good.
    kept = client.get(f"/v1/models/{older['version']}").json()
    assert kept["status"] == "retired"
    assert not (models_dir / older["version"]).exists()
    assert client.post(f"/v1/models/{older['version']}/activate").status_code == 409
    # The active one serves until the retrain replaces it, then goes too.
    third = settled(client, newer["version"])
    assert third["active"] is True
    assert client.get(f"/v1/models/{newer['version']}").json()["status"] == "retired"
    assert not (models_dir / newer["version"]).exists()
    ids = {m["version"]: m["status"] for m in client.get("/v1/models").json()["models"]}
    assert ids == {older["version"]: "retired", newer["version"]: "retired", third["version"]: "ready"}

    # A customer no kept version holds retires nothing and trains nothing.
    assert client.delete("/v1/customers/never-seen").status_code == 204
    assert len(client.get("/v1/models").json()["models"]) == 3


def test_an_answer_begun_before_the_erasure_is_never_written(
    committed_client: TestClient, engine: Engine
) -> None:
    """An offers answer still queued when the erasure runs, here or in another process (a log of its
    own on the same store), is dropped when its batch is written."""
    client = committed_client
    ingest(client, shop_events())
    wait_serving(client, train(client)["version"])
    began = utcnow()
    elsewhere = RecommendationLog(engine)  # another worker's queue, not flushed yet
    elsewhere.record(new_recommendation_id(), GONE, None, "personalized", ["k1-1"], issued_at=began)
    elsewhere.record(new_recommendation_id(), "c2", None, "personalized", ["k2-1"], issued_at=began)
    here: RecommendationLog = client.app.state.recommendation_log  # type: ignore[attr-defined]
    here.record(new_recommendation_id(), GONE, None, "personalized", ["k1-2"], issued_at=began)

    assert client.delete(f"/v1/customers/{GONE}").status_code == 204
    elsewhere.flush()
    here.flush()
    assert rows_about(engine, GONE)["recommendations"] == 0
    assert rows_about(engine, "c2")["recommendations"] == 1
    # Someone who asks under the same id after the erasure is recorded as anyone else.
    offers(client, GONE)
    here.flush()
    assert rows_about(engine, GONE)["recommendations"] == 1


def test_nothing_running_during_the_erasure_writes_them_back(
    committed_client: TestClient, engine: Engine
) -> None:
    """Offers and ingest for the customer keep coming while the DELETE runs: no row about them
    remains from a request that began before the DELETE was sent."""
    client = committed_client
    ingest(client, shop_events())
    wait_serving(client, train(client)["version"])
    stop = threading.Event()
    began: dict[str, datetime] = {}  # purchase event id → when its request began
    statuses: list[int] = []  # every answer the racing requests got (list.append is thread-safe)

    def ask() -> None:
        while not stop.is_set():
            statuses.append(client.get(f"/v1/customers/{GONE}/offers").status_code)

    def buy(worker: int) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            event = {**shop_events()[0], "event_id": f"race-{worker}-{n}", "customer_id": GONE}
            began[event["event_id"]] = utcnow()
            statuses.append(client.post("/v1/events/purchases", json={"events": [event]}).status_code)

    threads = [threading.Thread(target=ask) for _ in range(3)]
    threads += [threading.Thread(target=buy, args=(w,)) for w in range(2)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.5)
        sent = utcnow()
        erased = client.delete(f"/v1/customers/{GONE}").status_code
        time.sleep(0.3)
    finally:  # the threads never outlive the test, whatever failed
        stop.set()
        for t in threads:
            t.join()
    assert erased == 204
    assert set(statuses) == {200}
    client.app.state.recommendation_log.flush()  # type: ignore[attr-defined]
    with Session(engine) as s:
        kept = s.scalars(select(Purchase.event_id).where(Purchase.customer_id == GONE)).all()
        answers = s.scalars(select(Recommendation.created_at).where(Recommendation.customer_id == GONE)).all()
    assert min(began.values()) < sent  # the race did happen
    assert [e for e in kept if began[e] < sent] == []
    assert [a for a in answers if a < sent] == []


def test_delete_on_another_operation_path_is_not_an_erasure(client: TestClient) -> None:
    """Found by the fuzzing: DELETE /v1/customers/c1/offers erased a customer "c1/offers"."""
    r = client.delete("/v1/customers/c1/offers")
    assert r.status_code == 405
    assert r.headers["allow"] == "GET"
    r = client.delete("/v1/customers/a/b")  # an unencoded "/" and no other operation there
    assert r.status_code == 422
    assert "percent-encoded" in r.json()["error"]["message"]
    assert client.delete("/v1/customers/a%2Fb").status_code == 204  # "a/b", as the contract says
    # Before the id's own checks (a too long one is 422 on the erasure's path).
    assert client.delete(f"/v1/customers/{'0' * 300}/profile").status_code == 405


def test_a_405_lists_every_method_of_its_path(client: TestClient) -> None:
    r = client.request("OPTIONS", "/v1/campaigns")
    assert r.status_code == 405
    assert r.headers["allow"] == "GET, POST"
