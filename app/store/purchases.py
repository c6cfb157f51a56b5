"""Reads of the purchases and the catalogue that serving, start-up and readiness make."""

from __future__ import annotations

from sqlalchemy import false, func, select, text
from sqlalchemy.orm import Session

from app.store.tables import Product, Purchase


def ping(session: Session) -> None:
    """Raises when the database does not answer."""
    session.execute(text("SELECT 1"))


def inactive_products(session: Session) -> set[str]:
    return set(session.scalars(select(Product.product_id).where(Product.active == false())))


def known_product(session: Session, *, product_id: str) -> bool:
    return session.get(Product, product_id) is not None


def has_purchases(session: Session) -> bool:
    return bool(session.scalar(select(func.count()).select_from(select(Purchase.id).limit(1).subquery())))


def most_bought(session: Session, limit: int) -> list[tuple[str, float]]:
    """The products most customers bought, with their buyer counts, best first."""
    buyers = func.count(func.distinct(Purchase.customer_id))
    rows = session.execute(
        select(Purchase.product_id, buyers.label("buyers"))
        .where(Purchase.quantity > 0)
        .group_by(Purchase.product_id)
        .order_by(buyers.desc(), Purchase.product_id)
        .limit(limit)
    ).all()
    return [(r[0], float(r[1])) for r in rows]


def purchases_mark(session: Session) -> tuple[int | None, int]:
    """The highest purchase id and the count: changes whenever purchases are added or deleted."""
    row = session.execute(select(func.max(Purchase.id), func.count()).select_from(Purchase)).one()
    return row[0], int(row[1])
