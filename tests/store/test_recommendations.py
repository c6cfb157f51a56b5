from __future__ import annotations

import time

import psycopg
import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.clock import utcnow
from app.db import make_engine
from app.store.recommendations import RecommendationLog
from app.store.tables import Recommendation


def test_answers_are_written_as_offered(committed_engine: Engine) -> None:
    log = RecommendationLog(committed_engine)
    log.record("r1", "ann", "v1", "personalized", ["p1", "p2"])
    log.record("r2", "bob", None, "popular", [])
    before = utcnow()
    log.flush()
    with Session(committed_engine) as s:
        rows = {r.recommendation_id: r for r in s.scalars(select(Recommendation))}
    assert set(rows) == {"r1", "r2"}
    assert rows["r1"].product_ids == ["p1", "p2"]
    assert (rows["r1"].customer_id, rows["r1"].model_version, rows["r1"].strategy) == (
        "ann",
        "v1",
        "personalized",
    )
    assert rows["r2"].model_version is None
    assert rows["r2"].product_ids == []
    assert abs((rows["r1"].created_at - before).total_seconds()) < 60
    assert log.queue.empty()


def test_a_failed_write_keeps_the_answers_queued() -> None:
    log = RecommendationLog(make_engine("postgresql+psycopg://nobody@127.0.0.1:9/none"))
    log.record("r1", "ann", "v1", "popular", ["p1"])
    with pytest.raises(psycopg.OperationalError):  # the driver's own: the pool does not wrap it
        log.flush()
    assert log.queue.qsize() == 1


def test_answers_beyond_the_queue_are_counted_as_unrecorded(committed_engine: Engine) -> None:
    log = RecommendationLog(committed_engine, capacity=2)

    def unrecorded() -> float:
        return REGISTRY.get_sample_value("nbo_recommendations_unrecorded_total") or 0.0

    before = unrecorded()
    for i in range(5):
        log.record(f"r{i}", "ann", "v1", "popular", ["p1"])
    assert unrecorded() - before == 3
    log.flush()
    with Session(committed_engine) as s:
        assert set(s.scalars(select(Recommendation.recommendation_id))) == {"r0", "r1"}


def test_an_offers_answer_is_recorded(committed_client: TestClient, engine: Engine) -> None:
    body = committed_client.get("/v1/customers/someone/offers", params={"limit": 3}).json()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with Session(engine) as s:
            row = s.get(Recommendation, body["recommendation_id"])
        if row is not None:
            break
        time.sleep(0.05)
    assert row is not None
    assert row.product_ids == [o["product_id"] for o in body["offers"]]
    assert (row.customer_id, row.strategy, row.model_version) == (
        "someone",
        body["strategy"],
        body["model_version"],
    )
