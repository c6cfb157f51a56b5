"""The one read an offers request makes, as SQL: the customer's lines since a moment, their record,
the inactive products and the store's clock; for one customer (any dialect) or many at once
(PostgreSQL). The reader that runs it is app/store/offers_read.py."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import CompoundSelect, Integer, false, func, literal_column, null, select, union_all
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.expression import bindparam

from app.store.dialect import epoch_days
from app.store.tables import Customer, Product, Purchase

HistoryRow = tuple[str, float, float, float, str | None]  # product_id, quantity, unit_price, day, order_id


@dataclass
class Snapshot:
    """What one offers request needs from the store, read in one round trip."""

    lines: list[HistoryRow]  # the customer's lines in [since, before)
    known: bool  # the customer is in the store
    country: str | None
    inactive: list[str]  # inactive products
    clock_day: float | None  # the store's latest purchase before ``before``, in days
    customer_since_day: float | None = None  # when the store first saw the customer, in days


_LINE, _CUSTOMER, _INACTIVE, _CLOCK = range(4)


@dataclass(frozen=True)
class Compiled:
    sql: str
    names: tuple[str, ...] | None  # positional parameter order, or None for named parameters
    to_db: Callable[[datetime], Any]  # how the dialect stores a time


def single_read(dialect: Dialect) -> Compiled:
    """The read of one customer, compiled for ``dialect`` (building and compiling it cost more than
    running it: the reader does it once)."""
    customer = bindparam("customer", type_=Customer.customer_id.type)
    since = bindparam("since", type_=Purchase.occurred_at.type)
    before = bindparam("before", type_=Purchase.occurred_at.type)
    latest = epoch_days(dialect, func.max(Purchase.occurred_at))
    first = literal_column("1", Integer)  # the position answered, as in the batch statement
    stmt: CompoundSelect[Any] = union_all(
        select(
            first,
            literal_column(str(_LINE)),
            Purchase.product_id,
            Purchase.quantity,
            Purchase.unit_price,
            epoch_days(dialect),
            Purchase.order_id,
        ).where(
            Purchase.customer_id == customer, Purchase.occurred_at >= since, Purchase.occurred_at < before
        ),
        select(
            first,
            literal_column(str(_CUSTOMER)),
            Customer.country,
            null(),
            null(),
            epoch_days(dialect, Customer.created_at.expression),
            null(),
        ).where(Customer.customer_id == customer),
        select(
            first, literal_column(str(_INACTIVE)), Product.product_id, null(), null(), null(), null()
        ).where(Product.active == false()),
        select(first, literal_column(str(_CLOCK)), null(), null(), null(), latest, null()).where(
            Purchase.occurred_at < before
        ),
    )
    compiled = stmt.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    positional = compiled.positiontup
    # The dialect's own type: on SQLite it writes times as SQLAlchemy stores them (six digits of
    # microseconds), which the generic type leaves to the driver.
    processor = Purchase.occurred_at.type.dialect_impl(dialect).bind_processor(dialect)
    return Compiled(
        compiled.string,
        tuple(positional) if positional else None,
        processor if processor is not None else (lambda moment: moment),
    )


def _days(column: str) -> str:
    """epoch_days's expression on PostgreSQL, as SQL text."""
    dialect = PGDialect()  # type: ignore[no-untyped-call]
    return str(epoch_days(dialect, literal_column(column)).compile(dialect=dialect))


# The single read's four parts for many (customer, since, before), each row tagged with the
# position of what it answers (1-based; 0 for the inactive products, which answer all). LATERAL
# keeps each part an index lookup per customer whatever the planner guesses of the arrays.
BATCH_SQL = f"""
WITH asked AS (
    SELECT * FROM unnest(%(customers)s::varchar[], %(since)s::timestamp[], %(before)s::timestamp[])
        WITH ORDINALITY AS a(customer_id, since, before, i)
)
SELECT a.i, {_LINE}, p.product_id, p.quantity, p.unit_price, {_days("p.occurred_at")}, p.order_id
FROM asked a CROSS JOIN LATERAL (
    SELECT product_id, quantity, unit_price, occurred_at, order_id FROM purchases
    WHERE purchases.customer_id = a.customer_id AND occurred_at >= a.since AND occurred_at < a.before
) p
UNION ALL
SELECT a.i, {_CUSTOMER}, c.country, NULL, NULL, {_days("c.created_at")}, NULL
FROM asked a CROSS JOIN LATERAL (
    SELECT country, created_at FROM customers WHERE customers.customer_id = a.customer_id
) c
UNION ALL
SELECT 0, {_INACTIVE}, product_id, NULL, NULL, NULL, NULL FROM products WHERE active = false
UNION ALL
SELECT a.i, {_CLOCK}, NULL, NULL, NULL,
    {_days("(SELECT max(occurred_at) FROM purchases WHERE occurred_at < a.before)")}, NULL
FROM asked a
"""


def snapshots_of(rows: Sequence[Any], asked: int) -> list[Snapshot]:
    """The answers of a read of ``asked`` customers, in the order asked (they share one list of
    inactive products)."""
    snaps = [Snapshot([], False, None, [], None) for _ in range(asked)]
    inactive: list[str] = []
    for position, kind, key, quantity, price, day, order_id in rows:
        if kind == _INACTIVE:
            inactive.append(key)
            continue
        snap = snaps[position - 1]
        if kind == _LINE:
            snap.lines.append((key, quantity, price, day, order_id))
        elif kind == _CUSTOMER:
            snap.known, snap.country, snap.customer_since_day = True, key, day
        else:
            snap.clock_day = day
    for snap in snaps:
        snap.inactive = inactive
    return snaps
