"""Purchase and feedback events: stored once each, by their unique ``event_id``.

Every insert is idempotent (ON CONFLICT DO NOTHING), so a retried batch stores nothing twice, and
keys are inserted in sorted order so that concurrent batches touching the same rows cannot deadlock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, TypedDict

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import utcnow
from app.store.dialect import insert
from app.store.tables import Customer, Feedback, Product, Purchase, Recommendation


class PurchaseRow(TypedDict):
    event_id: str
    customer_id: str
    product_id: str
    quantity: float
    unit_price: float
    occurred_at: datetime  # naive UTC
    order_id: str | None


class FeedbackRow(TypedDict):
    event_id: str
    recommendation_id: str
    customer_id: str
    product_id: str
    type: str
    occurred_at: datetime
    channel: str | None


def ensure_customers(session: Session, customer_ids: Iterable[str]) -> None:
    # created_at to the microsecond (SQLite's own default keeps whole seconds): serving compares it
    # with when a model version began (app/serving/offers.py).
    now = utcnow()
    rows = [{"customer_id": c, "created_at": now} for c in sorted(set(customer_ids))]
    if rows:
        session.execute(insert(session, Customer).on_conflict_do_nothing(), rows)


def ensure_products(session: Session, product_ids: Iterable[str]) -> None:
    rows = [{"product_id": p} for p in sorted(set(product_ids))]
    if rows:
        session.execute(insert(session, Product).on_conflict_do_nothing(), rows)


def _insert_events(session: Session, table: Any, rows: Sequence[Any]) -> list[str]:
    """The event ids stored (those not stored before)."""
    if not rows:
        return []
    ordered = sorted(rows, key=lambda r: r["event_id"])
    stmt = (
        insert(session, table)
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(table.__table__.c.event_id)
    )
    return [r[0] for r in session.execute(stmt, ordered).all()]


def add_purchases(session: Session, rows: Sequence[PurchaseRow]) -> list[str]:
    """Store purchases whose event_id is new; returns the event ids stored."""
    if not rows:
        return []
    ensure_customers(session, (r["customer_id"] for r in rows))
    ensure_products(session, (r["product_id"] for r in rows))
    return _insert_events(session, Purchase, rows)


def add_feedback(session: Session, rows: Sequence[FeedbackRow]) -> list[str]:
    """Store feedback whose event_id is new; returns the event ids stored."""
    if not rows:
        return []
    ensure_customers(session, (r["customer_id"] for r in rows))
    return _insert_events(session, Feedback, rows)


def known_recommendations(session: Session, recommendation_ids: Iterable[str]) -> set[str]:
    wanted = sorted(set(recommendation_ids))
    found: set[str] = set()
    for i in range(0, len(wanted), 500):
        chunk = wanted[i : i + 500]
        rows = session.execute(
            select(Recommendation.recommendation_id).where(Recommendation.recommendation_id.in_(chunk))
        )
        found.update(r[0] for r in rows)
    return found
