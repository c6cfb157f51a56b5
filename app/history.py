"""Reads of purchase history: everything before a moment (training) or one customer's (serving)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Float,
    bindparam,
    cast,
    false,
    func,
    literal_column,
    null,
    select,
    union_all,
)
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.orm import Session

from app.ml.dataset import Dataset
from app.ml.ids import IdMap
from app.tables import Customer, Product, Purchase


def epoch_days(on: Session | Dialect, moment: ColumnElement[Any] | None = None) -> ColumnElement[float]:
    """A time (default: occurred_at) as days since 1970-01-01, computed by the database (far cheaper
    than datetimes)."""
    when: ColumnElement[Any] = Purchase.occurred_at if moment is None else moment  # type: ignore[assignment]
    dialect = on.get_bind().dialect if isinstance(on, Session) else on
    if dialect.name == "sqlite":
        return cast(func.julianday(when) - literal_column("2440587.5"), Float)
    return cast(func.extract("epoch", when) / literal_column("86400.0"), Float)


_COLUMNS = (
    Purchase.customer_id,
    Purchase.product_id,
    Purchase.quantity,
    Purchase.unit_price,
    Purchase.order_id,
)


def purchases_before(session: Session, *, before: datetime, products: IdMap | None = None) -> Dataset:
    """Every purchase line strictly before ``before``, as arrays."""
    rows = (
        session.connection()
        .execute(select(*_COLUMNS, epoch_days(session)).where(Purchase.occurred_at < before))
        .all()
    )
    countries: dict[str, str | None] = dict(
        session.execute(select(Customer.customer_id, Customer.country)).all()
    )
    cols: list[list[Any]] = [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in range(6)]
    return Dataset.build(
        customer_ids=cols[0],
        product_ids=cols[1],
        quantity=cols[2],
        unit_price=cols[3],
        day=cols[5],
        order_ids=cols[4],
        countries=countries,
        products=products,
    )


HistoryRow = tuple[str, int, float, float, str | None]  # product_id, quantity, unit_price, day, order_id


@dataclass
class Snapshot:
    """What one offers request needs from the store, read in one round trip."""

    lines: list[HistoryRow]  # the customer's lines in [since, before)
    known: bool  # the customer is in the store
    country: str | None
    inactive: list[str]  # inactive products
    clock_day: float | None  # the store's latest purchase before ``before``, in days


_LINE, _CUSTOMER, _INACTIVE, _CLOCK = range(4)


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...] | None  # positional parameter order, or None for named parameters
    to_db: Callable[[datetime], Any]  # how the dialect stores a time


_SNAPSHOT: dict[str, _Compiled] = {}


def _snapshot_sql(dialect: Dialect) -> _Compiled:
    """Built and compiled once per dialect: building and compiling cost more than running it."""
    if dialect.name not in _SNAPSHOT:
        customer = bindparam("customer", type_=Customer.customer_id.type)
        since = bindparam("since", type_=Purchase.occurred_at.type)
        before = bindparam("before", type_=Purchase.occurred_at.type)
        latest = epoch_days(dialect, func.max(Purchase.occurred_at))
        stmt: CompoundSelect[Any] = union_all(
            select(
                literal_column(str(_LINE)),
                Purchase.product_id,
                Purchase.quantity,
                Purchase.unit_price,
                epoch_days(dialect),
                Purchase.order_id,
            ).where(
                Purchase.customer_id == customer, Purchase.occurred_at >= since, Purchase.occurred_at < before
            ),
            select(literal_column(str(_CUSTOMER)), Customer.country, null(), null(), null(), null()).where(
                Customer.customer_id == customer
            ),
            select(literal_column(str(_INACTIVE)), Product.product_id, null(), null(), null(), null()).where(
                Product.active == false()
            ),
            select(literal_column(str(_CLOCK)), null(), null(), null(), latest, null()).where(
                Purchase.occurred_at < before
            ),
        )
        compiled = stmt.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
        positional = compiled.positiontup
        processor = Purchase.occurred_at.type.bind_processor(dialect)
        _SNAPSHOT[dialect.name] = _Compiled(
            compiled.string,
            tuple(positional) if positional else None,
            processor if processor is not None else (lambda moment: moment),
        )
    return _SNAPSHOT[dialect.name]


def serving_snapshot(engine: Engine, *, customer_id: str, since: datetime, before: datetime) -> Snapshot:
    """The customer's lines in [since, before), whether they exist and their country, the inactive
    products and the store's clock, in one statement (one consistent read).

    This runs on every offers request, on a pooled driver connection: a Session's transaction
    bookkeeping costs ten times the query itself.
    """
    compiled = _snapshot_sql(engine.dialect)
    values = {"customer": customer_id, "since": compiled.to_db(since), "before": compiled.to_db(before)}
    params: Any = values if compiled.names is None else tuple(values[n] for n in compiled.names)
    connection = engine.raw_connection()  # back to the pool, rolled back, on close
    try:
        cursor = connection.cursor()
        cursor.execute(compiled.sql, params)
        rows = cursor.fetchall()
        cursor.close()
    finally:
        connection.close()
    snap = Snapshot([], False, None, [], None)
    for kind, key, quantity, price, day, order_id in rows:
        if kind == _LINE:
            snap.lines.append((key, quantity, price, day, order_id))
        elif kind == _CUSTOMER:
            snap.known, snap.country = True, key
        elif kind == _INACTIVE:
            snap.inactive.append(key)
        else:
            snap.clock_day = day
    return snap


def inactive_products(session: Session) -> set[str]:
    return set(session.scalars(select(Product.product_id).where(Product.active == false())))


def known_product(session: Session, *, product_id: str) -> bool:
    return session.get(Product, product_id) is not None
