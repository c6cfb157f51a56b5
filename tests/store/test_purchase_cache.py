from __future__ import annotations

from datetime import datetime

import numpy as np
from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session

from app.ml.dataset import Dataset
from app.store.events import add_purchases
from app.store.purchase_cache import PurchaseCache
from app.store.tables import Purchase
from tests.store.test_offers_read import event

LATER = datetime(2030, 1, 1)


def add(engine: Engine, *events: tuple[int, str, str, str, str | None]) -> None:
    with Session(engine) as s:
        add_purchases(s, [event(*e) for e in events])
        s.commit()


def same(a: Dataset, b: Dataset) -> None:
    assert a.customers.ids == b.customers.ids
    assert a.products.ids == b.products.ids
    assert a.countries == b.countries
    for name in ("customer", "product", "quantity", "spend", "day"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    # orders group the same lines
    assert len(set(zip(a.order.tolist(), b.order.tolist(), strict=True))) == len(set(a.order.tolist()))


def fresh(engine: Engine, before: datetime = LATER) -> Dataset:
    with Session(engine) as s:
        return PurchaseCache().dataset(s, before=before)


def test_reads_only_new_rows_and_matches_a_full_read(committed_engine: Engine) -> None:
    add(
        committed_engine,
        (1, "bob", "p2", "2011-01-01T10:00:00", "o1"),
        (2, "ann", "p1", "2011-01-02T10:00:00", None),
    )
    columns = PurchaseCache()
    with Session(committed_engine) as s:
        first = columns.dataset(s, before=LATER)
    assert columns.rows_read == 2
    assert first.customers.ids == ["ann", "bob"]  # sorted, as a full read gives them
    add(
        committed_engine,
        (3, "cy", "p3", "2011-01-03T10:00:00", "o3"),
        (4, "ann", "p3", "2011-01-02T12:00:00", None),
    )
    with Session(committed_engine) as s:
        second = columns.dataset(s, before=LATER)
    assert columns.rows_read == 2
    same(second, fresh(committed_engine))
    # ann's two lines without order_id on one day are one order
    ann = second.customers.get("ann")
    assert len(set(second.order[second.customer == ann].tolist())) == 1
    with Session(committed_engine) as s:
        columns.dataset(s, before=LATER)
    assert columns.rows_read == 0  # nothing new


def test_before_cuts_by_time(committed_engine: Engine) -> None:
    add(
        committed_engine,
        (1, "ann", "p1", "2011-01-01T10:00:00", "o1"),
        (2, "bob", "p2", "2011-02-01T10:00:00", "o2"),
    )
    data = fresh(committed_engine, before=datetime(2011, 1, 15))
    assert data.customers.ids == ["ann"]
    assert data.products.ids == ["p1"]


def test_a_deletion_below_the_copy_is_read_afresh(committed_engine: Engine) -> None:
    add(committed_engine, *((n, f"c{n}", "p1", "2011-01-01T10:00:00", f"o{n}") for n in range(1, 6)))
    columns = PurchaseCache()
    with Session(committed_engine) as s:
        columns.dataset(s, before=LATER)
        s.execute(delete(Purchase).where(Purchase.customer_id.in_(["c2", "c5"])))
        s.commit()
    add(committed_engine, (9, "c9", "p1", "2011-01-01T10:00:00", "o9"))
    with Session(committed_engine) as s:
        data = columns.dataset(s, before=LATER)
    assert columns.rows_read == 4  # everything, not just the new row
    assert data.customers.ids == ["c1", "c3", "c4", "c9"]
    same(data, fresh(committed_engine))
