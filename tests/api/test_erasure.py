from __future__ import annotations

import time
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.main import create_app
from app.ml import artifact
from app.tables import Customer, Feedback, Purchase, Recommendation
from tests.api.helpers import ingest, shop_events, train, wait_serving
from tests.api.test_offers import offers

GONE = "c1"


def rows_about(engine: Engine, customer_id: str) -> dict[str, int]:
    with Session(engine) as s:
        return {
            table.__tablename__: int(
                s.scalar(select(func.count()).select_from(table).where(table.customer_id == customer_id)) or 0
            )
            for table in (Customer, Purchase, Feedback, Recommendation)
        }


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
    assert client.post("/v1/events/feedback", json={"events": [feedback]}).json()["accepted"] == 1
    assert client.get(f"/v1/customers/{GONE}/profile").status_code == 200
    segments_before = client.get("/v1/segments").json()
    deadline = time.monotonic() + 10
    while rows_about(engine, GONE)["recommendations"] == 0:  # written off the request's path
        assert time.monotonic() < deadline
        time.sleep(0.05)

    r = client.delete(f"/v1/customers/{GONE}")
    assert r.status_code == 204
    assert r.content == b""
    assert rows_about(engine, GONE) == {"customers": 0, "purchases": 0, "feedback": 0, "recommendations": 0}
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
    first_model, _ = artifact.load(models_dir / first["version"])
    assert first_model.customers.ids.get(GONE) is not None

    # Back on the version trained with them, someone new under the same id is a stranger to it:
    # their offers are those of any customer with the same single purchase.
    assert client.post(f"/v1/models/{first['version']}/activate").status_code == 200
    wait_serving(client, first["version"])
    line = {"product_id": "k2-3", "quantity": 2, "unit_price": 4.0, "occurred_at": "2011-12-05T10:00:00Z"}
    ingest(
        client,
        [
            {**line, "event_id": "again-1", "customer_id": GONE},
            {**line, "event_id": "fresh-1", "customer_id": "fresh"},
        ],
    )
    again, fresh = offers(client, GONE, limit=8), offers(client, "fresh", limit=8)
    assert again["model_version"] == fresh["model_version"] == first["version"]
    assert [(o["product_id"], o["score"]) for o in again["offers"]] == [
        (o["product_id"], o["score"]) for o in fresh["offers"]
    ]


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
