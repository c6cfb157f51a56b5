"""Writes to the store: events, catalogue, customers, erasure. Plain functions over a Session.

Every insert is idempotent: events by their unique ``event_id`` (ON CONFLICT DO NOTHING), so a retried
batch stores nothing twice, and keys are inserted in sorted order so that concurrent batches touching
the same rows cannot deadlock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, delete, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.schemas import CustomerIn, FeedbackEvent, ProductIn, PurchaseEvent, utcnow
from app.tables import Customer, Erasure, Feedback, Product, Purchase, Recommendation


def _insert(session: Session, table: Any) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT."""
    target: Table = table.__table__
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(target)
    return sqlite.insert(target)


def ensure_customers(session: Session, customer_ids: Iterable[str]) -> None:
    # created_at to the microsecond (SQLite's own default keeps whole seconds): serving compares it
    # with when a model version began (app/offers.py).
    now = utcnow()
    rows = [{"customer_id": c, "created_at": now} for c in sorted(set(customer_ids))]
    if rows:
        session.execute(_insert(session, Customer).on_conflict_do_nothing(), rows)


def ensure_products(session: Session, product_ids: Iterable[str]) -> None:
    rows = [{"product_id": p} for p in sorted(set(product_ids))]
    if rows:
        session.execute(_insert(session, Product).on_conflict_do_nothing(), rows)


def _insert_events(session: Session, table: Any, rows: list[dict[str, Any]]) -> list[str]:
    """The event ids stored (those not stored before)."""
    if not rows:
        return []
    rows.sort(key=lambda r: r["event_id"])
    stmt = (
        _insert(session, table)
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(table.__table__.c.event_id)
    )
    return [r[0] for r in session.execute(stmt, rows).all()]


def add_purchases(session: Session, *, events: Sequence[PurchaseEvent]) -> int:
    """Store purchases whose event_id is new; returns how many were stored."""
    if not events:
        return 0
    ensure_customers(session, (e.customer_id for e in events))
    ensure_products(session, (e.product_id for e in events))
    return len(_insert_events(session, Purchase, [e.model_dump() for e in events]))


def add_feedback(session: Session, *, events: Sequence[FeedbackEvent]) -> list[str]:
    """Store feedback whose event_id is new; returns the event ids stored."""
    if not events:
        return []
    ensure_customers(session, (e.customer_id for e in events))
    return _insert_events(session, Feedback, [e.model_dump() for e in events])


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


def _upsert(session: Session, table: Any, key: str, rows: list[dict[str, Any]]) -> None:
    """Insert or update; a field absent from a row leaves the stored value as it is."""
    by_fields: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in sorted(rows, key=lambda r: r[key]):
        by_fields.setdefault(tuple(sorted(row)), []).append(row)
    for fields, group in by_fields.items():
        stmt = _insert(session, table)
        # created_at says when the row was first inserted: an update leaves it.
        updates = {f: getattr(stmt.excluded, f) for f in fields if f not in (key, "created_at")}
        stmt = (
            stmt.on_conflict_do_update(index_elements=[key], set_=updates)
            if updates
            else stmt.on_conflict_do_nothing(index_elements=[key])
        )
        session.execute(stmt, group)


def upsert_products(session: Session, *, products: Sequence[ProductIn]) -> int:
    merged: dict[str, dict[str, Any]] = {}
    for p in products:  # the last row for a product wins, field by field
        merged.setdefault(p.product_id, {}).update(p.model_dump(exclude_unset=True))
    _upsert(session, Product, "product_id", list(merged.values()))
    return len(merged)


def upsert_customers(session: Session, *, customers: Sequence[CustomerIn]) -> int:
    merged: dict[str, dict[str, Any]] = {}
    for c in customers:
        row: dict[str, Any] = c.model_dump(exclude_unset=True, exclude={"consent"})
        if c.consent is not None:
            for channel, value in c.consent.model_dump(exclude_unset=True).items():
                row[f"consent_{channel}"] = value
        merged.setdefault(c.customer_id, {}).update(row)
    now = utcnow()
    for row in merged.values():
        row["created_at"] = now
    _upsert(session, Customer, "customer_id", list(merged.values()))
    return len(merged)


# Writers about a customer (ingest, the offers log) hold this lock shared while they check for an
# erasure and write; an erasure holds it alone while it deletes, so that none of them can write
# between its check and the erasure's commit. (SQLite has one writer at a time anyway.)
ERASURE_LOCK = 0x6E626F_E5
ERASURES_KEPT = timedelta(days=1)  # longer than any request or queued write can take


def customer_hash(customer_id: str) -> str:
    """How an erasure remembers an id: a one-way hash, never the id itself."""
    return hashlib.sha256(customer_id.encode()).hexdigest()


def begin_write(session: Session) -> None:
    """Begin a transaction that reads before it writes. The first statement of its transaction.

    On SQLite it takes the write lock now: a transaction that reads first fails at once, rather than
    waits, when it comes to write after another connection committed in between (and the
    recommendation writer commits often). PostgreSQL waits for row locks anyway."""
    if session.get_bind().dialect.name != "postgresql":
        session.execute(text("UPDATE erasures SET erased_at = erased_at WHERE 0 = 1"))


def hold_writes(session: Session) -> None:
    """Begin a write that an erasure must wait for. The first statement of its transaction."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock_shared(:key)"), {"key": ERASURE_LOCK})
    else:
        begin_write(session)


def erased_since(session: Session, customer_ids: Iterable[str], started_at: datetime) -> set[str]:
    """Those of ``customer_ids`` erased at or after ``started_at`` (a request that began before
    their erasure finished); call after hold_writes, in the same transaction."""
    recent = set(session.scalars(select(Erasure.customer_hash).where(Erasure.erased_at >= started_at)))
    if not recent:
        return set()
    return {c for c in set(customer_ids) if customer_hash(c) in recent}


def erase_customer(session: Session, *, customer_id: str, stamp: bool = False) -> int:
    """Delete every row about a customer: what they were offered, their feedback, their purchases and
    their record (one statement each, in the caller's transaction, which waits for the writers in
    flight). With ``stamp`` the erasure is also remembered (as a hash) from now on, so that what
    began before it cannot write them back. Returns the rows deleted."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ERASURE_LOCK})
    deleted = 0
    for column in (
        Recommendation.customer_id,
        Feedback.customer_id,
        Purchase.customer_id,
        Customer.customer_id,
    ):
        result = session.execute(delete(column.class_).where(column == customer_id))
        deleted += int(result.rowcount or 0)  # type: ignore[attr-defined]
    if stamp:
        now = utcnow()
        key = customer_hash(customer_id)
        session.execute(
            delete(Erasure).where((Erasure.customer_hash == key) | (Erasure.erased_at < now - ERASURES_KEPT))
        )
        session.add(Erasure(customer_hash=key, erased_at=now))
        session.flush()
    return deleted
