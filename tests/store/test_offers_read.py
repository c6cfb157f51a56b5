from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import make_engine
from app.main import create_app
from app.ml.dataset import to_day
from app.serving.loaded import Loaded
from app.store.catalog import upsert_customers, upsert_products
from app.store.events import PurchaseRow, add_purchases
from app.store.offers_read import READ_CONNECTIONS, OffersReader
from app.store.offers_sql import Snapshot
from tests.ml.test_rank import SMALL, checkerboard, fit_lines


def event(n: int, customer: str, product: str, when: str, order: str | None = None) -> PurchaseRow:
    return PurchaseRow(
        event_id=f"e{n}",
        customer_id=customer,
        product_id=product,
        quantity=2,
        unit_price=1.5,
        occurred_at=datetime.fromisoformat(when),
        order_id=order,
    )


@pytest.fixture
def stored(committed_engine: Engine) -> Engine:
    """Committed rows: the reader has a connection of its own."""
    with Session(committed_engine) as s:
        add_purchases(
            s,
            [
                event(1, "ann", "p1", "2011-01-01T10:00:00", "o1"),
                event(2, "ann", "p2", "2011-02-01T10:00:00", "o2"),
                event(3, "ann", "p3", "2011-03-01T10:00:00"),
                event(4, "bob", "p1", "2011-04-01T10:00:00", "o4"),
            ],
        )
        upsert_customers(s, [{"customer_id": "ann", "country": "France"}])
        upsert_products(s, [{"product_id": "p2", "active": False}])
        s.commit()
    return committed_engine


def test_reads_lines_in_window_customer_inactive_and_clock(stored: Engine) -> None:
    asyncio.run(reads_lines_in_window_customer_inactive_and_clock(stored))


async def reads_lines_in_window_customer_inactive_and_clock(stored: Engine) -> None:
    reader = OffersReader(stored)
    try:
        snap = await reader.read(customer_id="ann", since=datetime(2011, 1, 15), before=datetime(2011, 3, 15))
        assert sorted((r[0], r[1], r[4]) for r in snap.lines) == [("p2", 2, "o2"), ("p3", 2, None)]
        assert snap.lines[0][3] == pytest.approx(to_day(datetime(2011, 2, 1, 10)), abs=1e-6)
        assert (snap.known, snap.country) == (True, "France")
        assert snap.inactive == ["p2"]
        # the store's latest purchase before the moment, whoever made it
        assert snap.clock_day == pytest.approx(to_day(datetime(2011, 3, 1, 10)), abs=1e-6)
        later = await reader.read(customer_id="ann", since=datetime(2011, 1, 15), before=datetime(2012, 1, 1))
        assert later.clock_day == pytest.approx(to_day(datetime(2011, 4, 1, 10)), abs=1e-6)

        nobody = await reader.read(
            customer_id="nobody", since=datetime(2000, 1, 1), before=datetime(2012, 1, 1)
        )
        assert (nobody.lines, nobody.known, nobody.country) == ([], False, None)
    finally:
        await reader.aclose()


def test_a_broken_connection_is_replaced(stored: Engine) -> None:
    asyncio.run(a_broken_connection_is_replaced(stored))


async def a_broken_connection_is_replaced(stored: Engine) -> None:
    reader = OffersReader(stored)
    window = {"since": datetime(2000, 1, 1), "before": datetime(2012, 1, 1)}
    try:
        await reader.read(customer_id="bob", **window)
        kept = reader.connections
        if kept._idle:  # PostgreSQL
            await kept._idle[0].close()
        else:
            assert kept._connection is not None
            kept._connection.dbapi_connection.close()  # type: ignore[union-attr]
        snap = await reader.read(customer_id="bob", **window)
        assert [r[0] for r in snap.lines] == ["p1"]
    finally:
        await reader.aclose()


def test_concurrent_reads_each_get_their_own_answer(stored: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    asyncio.run(concurrent_reads_each_get_their_own_answer(stored, monkeypatch))


async def concurrent_reads_each_get_their_own_answer(stored: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    reader = OffersReader(stored)
    trips: list[str] = []
    fetch = reader.connections.fetch_async

    async def counted(sql: str, params: Any) -> Any:
        trips.append(sql)
        return await fetch(sql, params)

    monkeypatch.setattr(reader.connections, "fetch_async", counted)
    asked = [
        ("ann", datetime(2011, 1, 15), datetime(2011, 3, 15)),
        ("bob", datetime(2000, 1, 1), datetime(2012, 1, 1)),
        ("nobody", datetime(2000, 1, 1), datetime(2012, 1, 1)),
        ("ann", datetime(2000, 1, 1), datetime(2011, 1, 2)),
    ] * 5
    try:
        snaps = await asyncio.gather(*(reader.read(customer_id=c, since=a, before=b) for c, a, b in asked))
        together = len(trips)
        for (customer, since, before), snap in zip(asked, snaps, strict=True):
            assert snap == await reader.read(customer_id=customer, since=since, before=before), customer
        assert [sorted(r[0] for r in s.lines) for s in snaps[:4]] == [["p2", "p3"], ["p1"], [], ["p1"]]
        assert [s.country for s in snaps[:4]] == ["France", None, None, "France"]
        assert [s.inactive for s in snaps[:4]] == [["p2"]] * 4
        assert snaps[0].clock_day == pytest.approx(to_day(datetime(2011, 3, 1, 10)), abs=1e-6)
        assert snaps[3].clock_day == pytest.approx(to_day(datetime(2011, 1, 1, 10)), abs=1e-6)
        if stored.dialect.name == "postgresql":  # asked together, read together
            assert together <= READ_CONNECTIONS
    finally:
        await reader.aclose()


def test_a_cancelled_read_leaves_the_others_answered(stored: Engine) -> None:
    asyncio.run(a_cancelled_read_leaves_the_others_answered(stored))


async def a_cancelled_read_leaves_the_others_answered(stored: Engine) -> None:
    reader = OffersReader(stored)
    window = {"since": datetime(2000, 1, 1), "before": datetime(2012, 1, 1)}
    try:
        reads = [asyncio.ensure_future(reader.read(customer_id=c, **window)) for c in ("ann", "bob", "ann")]
        await asyncio.sleep(0)  # all three asked (SQLite has answered already: it reads in-process)
        reads[1].cancel()  # its client went away
        ann, cancelled, again = await asyncio.gather(*reads, return_exceptions=True)
        if stored.dialect.name == "postgresql":  # it was waiting for the batch
            assert isinstance(cancelled, asyncio.CancelledError)
        assert isinstance(ann, Snapshot)
        assert ann == again
        assert sorted(r[0] for r in ann.lines) == ["p1", "p2", "p3"]
        bob = await reader.read(customer_id="bob", **window)  # the reader goes on serving
        assert [r[0] for r in bob.lines] == ["p1"]
    finally:
        await reader.aclose()


def test_unreachable_store_is_a_503() -> None:
    url = "postgresql+psycopg://nobody@127.0.0.1:9/none"  # the discard port: nothing listens
    reader = OffersReader(make_engine(url))
    with pytest.raises(OperationalError):
        asyncio.run(reader.read(customer_id="ann", since=datetime(2000, 1, 1), before=datetime(2012, 1, 1)))

    app = create_app(Settings(database_url=url, api_keys={}, sample_data=None, train_on_start=False))
    app.state.serving.start = lambda: None  # no store to poll for the active version
    model = fit_lines(checkerboard(4), [None] * 4, ["p0", "p1", "p2", "p3"], SMALL)
    with TestClient(app) as client:
        app.state.serving.current = Loaded("v1", model, 0.0)
        r = client.get("/v1/customers/c1/offers")
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "database_unavailable"
    assert r.headers["retry-after"] == "1"
