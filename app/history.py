"""Reads of purchase history: everything before a moment (training) or one customer's (serving)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import false, func, select
from sqlalchemy.orm import Session

from app.ml.dataset import Dataset
from app.ml.ids import IdMap
from app.tables import Customer, Product, Purchase

_COLUMNS = (
    Purchase.customer_id,
    Purchase.product_id,
    Purchase.quantity,
    Purchase.unit_price,
    Purchase.occurred_at,
    Purchase.order_id,
)


def purchases_before(session: Session, *, before: datetime, products: IdMap | None = None) -> Dataset:
    """Every purchase line strictly before ``before``, as arrays."""
    rows = session.execute(
        select(*_COLUMNS).where(Purchase.occurred_at < before).execution_options(yield_per=50_000)
    ).all()
    countries: dict[str, str | None] = dict(
        session.execute(select(Customer.customer_id, Customer.country)).all()
    )
    cols: list[list[Any]] = [list(c) for c in zip(*rows, strict=True)] if rows else [[] for _ in _COLUMNS]
    return Dataset.build(
        customer_ids=cols[0],
        product_ids=cols[1],
        quantity=cols[2],
        unit_price=cols[3],
        occurred_at=cols[4],
        order_ids=cols[5],
        countries=countries,
        products=products,
    )


def customer_history(
    session: Session, *, customer_id: str, before: datetime
) -> list[tuple[str, int, float, datetime, str | None]]:
    """One customer's lines before ``before``: (product_id, quantity, unit_price, occurred_at, order_id)."""
    rows = session.execute(
        select(
            Purchase.product_id,
            Purchase.quantity,
            Purchase.unit_price,
            Purchase.occurred_at,
            Purchase.order_id,
        ).where(Purchase.customer_id == customer_id, Purchase.occurred_at < before)
    )
    return [(p, q, u, t, o) for p, q, u, t, o in rows]


def latest_purchase_before(session: Session, *, before: datetime) -> datetime | None:
    """The store's clock: its latest purchase before a moment (an index lookup)."""
    return session.scalar(select(func.max(Purchase.occurred_at)).where(Purchase.occurred_at < before))


def customer_country(session: Session, *, customer_id: str) -> str | None:
    return session.scalar(select(Customer.country).where(Customer.customer_id == customer_id))


def inactive_products(session: Session) -> set[str]:
    return set(session.scalars(select(Product.product_id).where(Product.active == false())))


def known_product(session: Session, *, product_id: str) -> bool:
    return session.get(Product, product_id) is not None
