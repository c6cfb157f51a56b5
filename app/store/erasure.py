"""Erasure in the store: deleting every row about a customer, and the lock and the record (a hash)
that keep writers which began before it from writing them back."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session

from app.clock import utcnow
from app.store.tables import Campaign, Contact, Customer, Erasure, Feedback, Purchase, Recommendation

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


def hold_writes(session: Session, customer_ids: Iterable[str], started_at: datetime) -> set[str]:
    """Begin a write about ``customer_ids`` that an erasure must wait for (the first statement of
    its transaction); returns those of them erased at or after ``started_at`` (the write began
    before their erasure finished), which it must leave out."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock_shared(:key)"), {"key": ERASURE_LOCK})
    else:
        begin_write(session)
    recent = set(session.scalars(select(Erasure.customer_hash).where(Erasure.erased_at >= started_at)))
    if not recent:
        return set()
    return {c for c in set(customer_ids) if customer_hash(c) in recent}


def erased_since(session: Session, since: datetime) -> set[str]:
    """The hashes of the customers erased at or after ``since``."""
    return set(session.scalars(select(Erasure.customer_hash).where(Erasure.erased_at >= since)))


def _scrub_previews(session: Session, customer_id: str) -> int:
    """Take the customer out of the campaigns' previews (their first recipients, kept whole);
    returns how many entries went. Read in Python: previews are small, and a JSON column's text
    is not the same on every database."""
    removed = 0
    for campaign_id, preview in session.execute(select(Campaign.campaign_id, Campaign.preview)).all():
        kept = [p for p in preview or [] if p.get("customer_id") != customer_id]
        if len(kept) != len(preview or []):
            removed += len(preview) - len(kept)
            session.execute(update(Campaign).where(Campaign.campaign_id == campaign_id).values(preview=kept))
    return removed


def erase_customer(session: Session, *, customer_id: str, stamp: bool = False) -> int:
    """Delete every row about a customer: what they were offered, their feedback, their purchases,
    their record and their place in campaigns' previews (in the caller's transaction, which waits
    for the writers in flight). With ``stamp`` the erasure is also remembered (as a hash) from now
    on, so that what began before it cannot write them back. Returns the rows deleted."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ERASURE_LOCK})
    deleted = 0
    for column in (
        Contact.customer_id,
        Recommendation.customer_id,
        Feedback.customer_id,
        Purchase.customer_id,
        Customer.customer_id,
    ):
        result = session.execute(delete(column.class_).where(column == customer_id))
        deleted += int(result.rowcount or 0)  # type: ignore[attr-defined]
    deleted += _scrub_previews(session, customer_id)
    if stamp:
        now = utcnow()
        key = customer_hash(customer_id)
        session.execute(
            delete(Erasure).where((Erasure.customer_hash == key) | (Erasure.erased_at < now - ERASURES_KEPT))
        )
        session.add(Erasure(customer_hash=key, erased_at=now))
        session.flush()
    return deleted
