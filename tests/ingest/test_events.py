"""Ingest of feedback beside campaigns: an impression is a contact the caps count, so it is never
recorded while a campaign's batch checks the caps and sends."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from app.clock import utcnow
from app.db import Session, make_engine, make_session_factory
from app.ingest.events import store_feedback
from app.store.campaigns import hold_sends
from app.store.events import FeedbackRow
from app.store.tables import Contact
from tests.conftest import PG_URL, fresh_database


@pytest.mark.skipif(not PG_URL, reason="needs a PostgreSQL server (NBO_TEST_DATABASE_URL; always set in CI)")
def test_an_impression_waits_for_the_campaign_batch_in_flight(tmp_path: Path) -> None:
    with fresh_database("postgresql", tmp_path, "nbo_impression") as url:
        engine = make_engine(url)
        factory = make_session_factory(engine)
        try:
            impression = FeedbackRow(
                event_id="f1",
                recommendation_id="r1",
                customer_id="c1",
                product_id="p1",
                type="impression",
                occurred_at=utcnow(),
                channel="email",
            )
            done: list[int] = []
            with factory() as batch:  # a campaign's batch: it holds the sends lock until it commits
                hold_sends(batch)

                def record() -> None:
                    with factory() as session:
                        done.append(len(store_feedback(session, [impression], started=utcnow()).stored))

                writer = threading.Thread(target=record)
                writer.start()
                deadline = time.monotonic() + 60
                while not waiting_on_a_lock(batch):
                    assert time.monotonic() < deadline, "the impression never waited for the batch"
                    assert not done, "the impression was recorded while the batch held the lock"
                    time.sleep(0.02)
                assert contacts(batch) == 0
                batch.commit()
            writer.join(timeout=60)
            assert done == [1]
            with factory() as session:
                assert contacts(session) == 1
        finally:
            engine.dispose()


def waiting_on_a_lock(session: Session) -> bool:
    """Whether another connection waits on an advisory lock (the sends lock, here)."""
    query = text(
        "SELECT count(*) FROM pg_locks"
        " WHERE locktype = 'advisory' AND NOT granted AND pid <> pg_backend_pid()"
    )
    return bool(session.execute(query).scalar())


def contacts(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Contact)) or 0)
