"""A columnar copy of the purchases table, held by the app (app/derived.py), brought up to date by
reading only the rows added since it was last read.

Purchases are never updated, and their ids are never reused (a PostgreSQL sequence; AUTOINCREMENT
in SQLite), so the rows up to the copy's highest id are unchanged exactly when their count and the
sum of their ids are: a deletion lowers the count, a row committed late below that id raises it.
Anything else is read afresh. A retrain then reads what is new instead of the whole table.

That exact check scans the whole table, which at tens of millions of lines takes seconds: training,
attribution and experiments make it, but the profiles' once-a-second check must cost what is new,
not what is stored. It counts and sums only the ids above the copy's highest id of SETTLE_SECONDS
ago (a row committed later than that below it would come from a transaction open longer than any
ingest keeps one), and learns of deletions from the erasures' record (app/store/erasure.py), the way
purchases are deleted. The exact check still runs every FULL_CHECK_SECONDS (or, where it is slow,
at most 2 % of the time), which bounds how long anything else can go unseen.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.ml.dataset import MS_PER_DAY, Dataset, order_key, to_day
from app.ml.ids import IdMap
from app.store.dialect import epoch_days
from app.store.tables import Customer, Erasure, Purchase

SETTLE_SECONDS = 60.0
FULL_CHECK_SECONDS = 300.0
FULL_CHECK_SHARE = 0.02
READ_CHUNK = 100_000  # rows fetched at a time

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


class _Codes:
    """Strings to dense codes, in the order first seen."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.index: dict[str, int] = {}

    def encode(self, values: Iterable[str]) -> I64:
        index, ids = self.index, self.ids
        out = []
        for value in values:
            code = index.get(value)
            if code is None:
                code = index[value] = len(ids)
                ids.append(value)
            out.append(code)
        return np.array(out, dtype=np.int64)


def _dense_sorted(codes: I64, names: list[str]) -> tuple[IdMap, I64]:
    """Re-code the codes present so that they follow their names' sorted order (as a full read would).

    Linear in the rows: presence by counting, not by sorting the rows.
    """
    present = np.flatnonzero(np.bincount(codes, minlength=len(names)))
    present_names = [names[c] for c in present.tolist()]
    order = sorted(range(len(present_names)), key=present_names.__getitem__)
    recode = np.full(len(names), -1, dtype=np.int64)
    recode[present[order]] = np.arange(len(order))
    return IdMap([present_names[i] for i in order]), recode[codes]


def _dense(codes: I64, size: int) -> I64:
    """Codes numbered 0.. over the codes present (grouping only, order of no meaning)."""
    present = np.bincount(codes, minlength=size) > 0
    return (np.cumsum(present) - 1)[codes].astype(np.int64)


class PurchaseCache:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock  # seconds, for how old the last check is
        self._lock = threading.Lock()
        # When the last exact check was made, not what the copy holds: kept when it is read afresh.
        self.exact_due = -float("inf")  # when the cheap check next gives way to the exact one
        self.erased_seen: datetime | None = None  # the latest erasure when last checked exactly
        self._clear()

    def _clear(self) -> None:
        self.customers, self.products, self.orders = _Codes(), _Codes(), _Codes()
        self.chunks: list[tuple[I64, I64, I64, F64, F64, F64]] = []
        self.mark = (0, 0, 0)  # count, sum of ids, highest id
        self.rows_read = 0  # rows fetched by the last refresh (what a benchmark or a log reports)
        self.checked_at = -float("inf")
        self.marks: deque[tuple[float, tuple[int, int, int]]] = deque()  # (when, mark), oldest first

    def refresh(
        self, session: Session, *, max_age_seconds: float = 0.0, exact: bool = True
    ) -> tuple[int, int, int]:
        """Bring the copy up to date, unless it was checked less than ``max_age_seconds`` ago; its
        mark (count, sum of ids, highest id) says what it holds. ``exact=False`` trusts the rows the
        copy held SETTLE_SECONDS ago unless an erasure came since (see the module's docstring)."""
        with self._lock:
            if self.clock() - self.checked_at >= max_age_seconds:
                self._refresh(session, exact=exact)
            return self.mark

    def dataset(self, session: Session, *, before: datetime, refresh: bool = True) -> Dataset:
        """Every purchase line strictly before ``before``, as arrays (what a full read returns);
        ``refresh=False`` when the caller has just refreshed the copy."""
        with self._lock:
            if refresh:
                self._refresh(session, exact=True)
            rows = session.execute(select(Customer.customer_id, Customer.country)).all()
            countries: dict[str, str | None] = dict(rows)
            return self._build(to_day(before), countries)

    def _refresh(self, session: Session, *, exact: bool) -> None:
        now = self.checked_at = self.clock()
        count, id_sum, top = self.mark
        highest = int(session.scalar(select(func.coalesce(func.max(Purchase.id), 0))) or 0)  # an index lookup
        erased = session.scalar(select(func.max(Erasure.erased_at)))  # an index lookup too
        exact = exact or top == 0 or now >= self.exact_due or erased != self.erased_seen
        # Rows up to ``since`` are trusted by the cheap check; those above it are counted.
        since = (0, 0, 0) if exact else self._settled(now)
        above = session.execute(
            select(func.count(), func.coalesce(func.sum(Purchase.id), 0)).where(
                Purchase.id > since[2], Purchase.id <= top
            )
        ).one()
        if exact:
            self.erased_seen = erased
            done = self.clock()
            self.exact_due = done + max(FULL_CHECK_SECONDS, (done - now) / FULL_CHECK_SHARE)
        if top == 0 or (int(above[0]), int(above[1])) != (count - since[0], id_sum - since[1]):
            self._clear()  # first read, or rows up to the copy's highest id changed
        elif highest == top:
            self.rows_read = 0  # nothing new
            return
        self._append(session)
        self.marks.append((now, self.mark))

    def _settled(self, now: float) -> tuple[int, int, int]:
        """The copy's mark of at least SETTLE_SECONDS ago (nothing: none is that old yet); older
        marks are dropped."""
        while len(self.marks) > 1 and now - self.marks[1][0] >= SETTLE_SECONDS:
            self.marks.popleft()
        if self.marks and now - self.marks[0][0] >= SETTLE_SECONDS:
            return self.marks[0][1]
        return (0, 0, 0)

    def _append(self, session: Session) -> None:
        """Read the rows above the copy's highest id, a chunk at a time: each chunk's Python objects
        become arrays before the next is fetched, so memory holds arrays, not rows."""
        stmt = (
            select(
                Purchase.id,
                Purchase.customer_id,
                Purchase.product_id,
                Purchase.quantity,
                Purchase.unit_price,
                epoch_days(session),
                Purchase.order_id,
            )
            .where(Purchase.id > self.mark[2])
            .order_by(Purchase.id)
            .execution_options(yield_per=READ_CHUNK)
        )
        self.rows_read = 0
        with session.connection().execute(stmt) as result:
            for rows in result.partitions():
                self._add_chunk(rows)

    def _add_chunk(self, rows: Sequence[Any]) -> None:
        self.rows_read += len(rows)
        ids, customers, products, quantity, price, day, orders = zip(*rows, strict=True)
        # SQLite's julianday carries ~0.1 ms of rounding: times are kept to the millisecond.
        days = np.round(np.array(day, dtype=np.float64) * MS_PER_DAY) / MS_PER_DAY
        keys = (order_key(c, o, d) for c, o, d in zip(customers, orders, days.tolist(), strict=True))
        self.chunks.append(
            (
                self.customers.encode(customers),
                self.products.encode(products),
                self.orders.encode(keys),
                np.array(quantity, dtype=np.float64),
                np.array(price, dtype=np.float64),
                days,
            )
        )
        id_array = np.array(ids, dtype=np.int64)
        self.mark = (self.mark[0] + len(ids), self.mark[1] + int(id_array.sum()), int(id_array.max()))

    def _build(self, before_day: float, countries: dict[str, str | None]) -> Dataset:
        if len(self.chunks) > 1:
            self.chunks = [tuple(np.concatenate(parts) for parts in zip(*self.chunks, strict=True))]  # type: ignore[list-item]
        if not self.chunks:
            empty_i, empty_f = np.zeros(0, np.int64), np.zeros(0, np.float64)
            return Dataset(IdMap([]), IdMap([]), [], empty_i, empty_i, empty_i, empty_f, empty_f, empty_f)
        customer, product, order, quantity, price, day = self.chunks[0]
        keep = day < before_day
        customer_map, customer_codes = _dense_sorted(customer[keep], self.customers.ids)
        product_map, product_codes = _dense_sorted(product[keep], self.products.ids)
        order_codes = _dense(order[keep], len(self.orders.ids))
        return Dataset(
            customers=customer_map,
            products=product_map,
            countries=[countries.get(c) for c in customer_map.ids],
            customer=customer_codes,
            product=product_codes,
            order=order_codes,
            quantity=quantity[keep],
            spend=(quantity * price)[keep],
            day=day[keep],
        )
