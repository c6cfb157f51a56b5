"""Reads of the customers' records: contact details, prospects, audiences' candidates."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.store.tables import Customer, Purchase

CHANNELS = ("email", "sms", "phone", "web")
CONSENTS = ("email", "sms", "phone")


def preferred_channel(session: Session, customer_id: str) -> tuple[bool, str | None]:
    """Whether the store knows the customer, and their preferred channel."""
    row = session.get(Customer, customer_id)
    return (row is not None, row.preferred_channel if row is not None else None)


def count_prospects(session: Session) -> int:
    """Customers in the store who never bought anything."""
    bought = select(Purchase.id).where(Purchase.customer_id == Customer.customer_id).exists()
    return int(session.scalar(select(func.count()).select_from(Customer).where(~bought)) or 0)


@contextmanager
def contacts(
    session: Session, *, channel: str | None, consent: str | None, after: str | None
) -> Iterator[Iterator[tuple[str, str | None]]]:
    """(customer_id, preferred channel) in id order, those with the preferred ``channel`` and the
    ``consent`` given, after ``after``. Streamed (a server-side cursor on PostgreSQL), and closed on
    leaving, also when the caller stops early."""
    stmt = select(Customer.customer_id, Customer.preferred_channel).order_by(Customer.customer_id)
    if channel is not None:
        stmt = stmt.where(Customer.preferred_channel == channel)
    if consent is not None:
        if consent not in CONSENTS:
            raise ValueError(f"consent: {consent!r} is not one of {', '.join(CONSENTS)}")
        stmt = stmt.where(getattr(Customer, f"consent_{consent}").is_(True))
    if after is not None:
        stmt = stmt.where(Customer.customer_id > after)
    with session.execute(stmt.execution_options(yield_per=1000)) as rows:
        yield ((r[0], r[1]) for r in rows)
