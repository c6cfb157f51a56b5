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


Described = dict[str, object]  # name, category, price: those the catalogue knows


def described_products(session: Session) -> dict[str, Described]:
    """The products with a name, category or price, and those fields."""
    rows = session.execute(
        select(Product.product_id, Product.name, Product.category, Product.price).where(
            (Product.name.is_not(None)) | (Product.category.is_not(None)) | (Product.price.is_not(None))
        )
    )
    out: dict[str, Described] = {}
    for pid, name, category, price in rows:
        fields = {"name": name, "category": category, "price": price}
        out[pid] = {k: v for k, v in fields.items() if v is not None}
    return out


def products_page(session: Session, *, limit: int, after: str | None) -> list[dict[str, object]]:
    stmt = select(Product).order_by(Product.product_id).limit(limit)
    if after is not None:
        stmt = stmt.where(Product.product_id > after)
    return [_product(p) for p in session.scalars(stmt)]


def product(session: Session, product_id: str) -> dict[str, object] | None:
    found = session.get(Product, product_id)
    return _product(found) if found is not None else None


def _product(p: Product) -> dict[str, object]:
    return {
        "product_id": p.product_id,
        "name": p.name,
        "category": p.category,
        "price": p.price,
        "active": p.active,
    }


def history(session: Session, customer_id: str, *, limit: int) -> tuple[list[dict[str, object]], int]:
    """The customer's latest ``limit`` purchase lines, newest first, with the product's name; and
    how many lines they have in all."""
    rows = session.execute(
        select(
            Purchase.occurred_at,
            Purchase.order_id,
            Purchase.product_id,
            Product.name,
            Purchase.quantity,
            Purchase.unit_price,
        )
        .join(Product, Product.product_id == Purchase.product_id)
        .where(Purchase.customer_id == customer_id)
        .order_by(Purchase.occurred_at.desc(), Purchase.id.desc())
        .limit(limit)
    ).all()
    total = session.scalar(select(func.count()).where(Purchase.customer_id == customer_id)) or 0
    fields = ("occurred_at", "order_id", "product_id", "name", "quantity", "unit_price")
    return [dict(zip(fields, r, strict=True)) for r in rows], int(total)
