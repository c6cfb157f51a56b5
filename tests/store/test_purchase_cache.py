from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest
from sqlalchemy import Engine, delete, update
from sqlalchemy.orm import Session

from app.ml.dataset import Dataset
from app.store.erasure import erase_customer
from app.store.events import add_purchases
from app.store.purchase_cache import FULL_CHECK_SECONDS, SETTLE_SECONDS, PurchaseCache
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


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


CHOSEN = 10**9


def cheap(engine: Engine, columns: PurchaseCache) -> tuple[int, int, int]:
    with Session(engine) as s:
        return columns.refresh(s, exact=False)


def insert_with_id(engine: Engine, n: int, customer: str) -> None:
    """A line whose id is chosen (above any the sequence gives here), as a transaction that took its id
    early and committed late leaves it."""
    add(engine, (n, customer, "p1", "2011-01-01T10:00:00", f"o{n}"))
    with Session(engine) as s:
        s.execute(update(Purchase).where(Purchase.event_id == f"e{n}").values(id=CHOSEN + n))
        s.commit()


def test_the_cheap_check_counts_only_what_is_younger_than_the_settled_mark(committed_engine: Engine) -> None:
    clock = Clock()
    columns = PurchaseCache(clock=clock)
    for n in (10, 20):
        insert_with_id(committed_engine, n, f"c{n}")
    cheap(committed_engine, columns)  # the first read is exact
    clock.now = SETTLE_SECONDS
    insert_with_id(committed_engine, 30, "c30")
    assert cheap(committed_engine, columns)[2] == CHOSEN + 30
    # A late row below the mark of a minute ago is left to the exact check...
    insert_with_id(committed_engine, 15, "c15")
    clock.now = SETTLE_SECONDS + 1
    assert cheap(committed_engine, columns)[0] == 3
    # ...but one above it (from a transaction open for less than SETTLE_SECONDS) is seen at once.
    insert_with_id(committed_engine, 25, "c25")
    assert cheap(committed_engine, columns)[0] == 5
    assert columns.rows_read == 5  # read afresh
    with Session(committed_engine) as s:
        same(columns.dataset(s, before=LATER, refresh=False), fresh(committed_engine))


def test_the_exact_check_comes_back_on_its_own(committed_engine: Engine) -> None:
    clock = Clock()
    columns = PurchaseCache(clock=clock)
    insert_with_id(committed_engine, 10, "c10")
    insert_with_id(committed_engine, 20, "c20")
    cheap(committed_engine, columns)
    clock.now = 2 * SETTLE_SECONDS
    insert_with_id(committed_engine, 30, "c30")
    cheap(committed_engine, columns)
    with Session(committed_engine) as s:
        s.execute(delete(Purchase).where(Purchase.customer_id == "c10"))  # not through an erasure
        s.commit()
    clock.now += 1
    assert cheap(committed_engine, columns)[0] == 3  # unseen yet
    clock.now = FULL_CHECK_SECONDS
    assert cheap(committed_engine, columns)[0] == 2
    with Session(committed_engine) as s:
        same(columns.dataset(s, before=LATER, refresh=False), fresh(committed_engine))


def test_an_erasure_is_seen_by_the_next_cheap_check(committed_engine: Engine) -> None:
    clock = Clock()
    columns = PurchaseCache(clock=clock)
    add(committed_engine, *((n, f"c{n}", "p1", "2011-01-01T10:00:00", f"o{n}") for n in range(1, 4)))
    cheap(committed_engine, columns)
    clock.now = 2 * SETTLE_SECONDS
    add(committed_engine, (4, "c4", "p1", "2011-01-01T10:00:00", "o4"))
    cheap(committed_engine, columns)
    with Session(committed_engine) as s:
        erase_customer(s, customer_id="c1", stamp=True)
        s.commit()
    clock.now += 1
    assert cheap(committed_engine, columns)[0] == 3
    with Session(committed_engine) as s:
        assert columns.dataset(s, before=LATER, refresh=False).customers.ids == ["c2", "c3", "c4"]


def test_a_read_in_many_chunks_matches_a_read_in_one(
    committed_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    add(
        committed_engine,
        *((n, f"c{n % 3}", f"p{n % 4}", f"2011-01-0{1 + n % 5}T10:00:00", f"o{n % 6}") for n in range(1, 12)),
    )
    whole = fresh(committed_engine)
    monkeypatch.setattr("app.store.purchase_cache.READ_CHUNK", 2)
    columns = PurchaseCache()
    with Session(committed_engine) as s:
        columns.refresh(s)
        assert len(columns.chunks) == 6
        chunked = columns.dataset(s, before=LATER, refresh=False)
    assert columns.rows_read == 11
    same(chunked, whole)
