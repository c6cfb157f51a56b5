"""Reads of purchase history: everything before a moment (training) or one customer's (serving)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Float, cast, false, func, select
from sqlalchemy.orm import Session

from app.ml.dataset import Dataset
from app.ml.ids import IdMap
from app.tables import Customer, Product, Purchase


def epoch_days(session: Session) -> ColumnElement[float]:
    """occurred_at as days since 1970-01-01, computed by the database (far cheaper than datetimes)."""
    if session.get_bind().dialect.name == "sqlite":
        return cast(func.julianday(Purchase.occurred_at) - 2440587.5, Float)
    return cast(func.extract("epoch", Purchase.occurred_at) / 86400.0, Float)


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


def customer_history(
    session: Session, *, customer_id: str, before: datetime
) -> list[tuple[str, int, float, float, str | None]]:
    """One customer's lines before ``before``: (product_id, quantity, unit_price, day, order_id)."""
    # Core, not ORM, and days computed by the database: this runs on every offers request.
    stmt = select(
        Purchase.product_id, Purchase.quantity, Purchase.unit_price, epoch_days(session), Purchase.order_id
    ).where(Purchase.customer_id == customer_id, Purchase.occurred_at < before)
    return [(p, q, u, d, o) for p, q, u, d, o in session.connection().execute(stmt)]


def latest_purchase_before(session: Session, *, before: datetime) -> datetime | None:
    """The store's clock: its latest purchase before a moment (an index lookup)."""
    return session.scalar(select(func.max(Purchase.occurred_at)).where(Purchase.occurred_at < before))


def customer_country(session: Session, *, customer_id: str) -> str | None:
    return session.scalar(select(Customer.country).where(Customer.customer_id == customer_id))


def inactive_products(session: Session) -> set[str]:
    return set(session.scalars(select(Product.product_id).where(Product.active == false())))


def known_product(session: Session, *, product_id: str) -> bool:
    return session.get(Product, product_id) is not None
