"""Reads of purchase history: everything before a moment (training) or one customer's (serving)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    cast,
    false,
    func,
    literal_column,
    select,
)
from sqlalchemy.engine import Dialect
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


def inactive_products(session: Session) -> set[str]:
    return set(session.scalars(select(Product.product_id).where(Product.active == false())))


def known_product(session: Session, *, product_id: str) -> bool:
    return session.get(Product, product_id) is not None
