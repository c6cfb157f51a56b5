"""Reads of purchase history: everything before a moment (training) or one customer's (serving)."""

from __future__ import annotations

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

from app.tables import Product, Purchase


def epoch_days(on: Session | Dialect, moment: ColumnElement[Any] | None = None) -> ColumnElement[float]:
    """A time (default: occurred_at) as days since 1970-01-01, computed by the database (far cheaper
    than datetimes)."""
    when: ColumnElement[Any] = Purchase.occurred_at if moment is None else moment  # type: ignore[assignment]
    dialect = on.get_bind().dialect if isinstance(on, Session) else on
    if dialect.name == "sqlite":
        return cast(func.julianday(when) - literal_column("2440587.5"), Float)
    return cast(func.extract("epoch", when) / literal_column("86400.0"), Float)


def inactive_products(session: Session) -> set[str]:
    return set(session.scalars(select(Product.product_id).where(Product.active == false())))


def known_product(session: Session, *, product_id: str) -> bool:
    return session.get(Product, product_id) is not None
