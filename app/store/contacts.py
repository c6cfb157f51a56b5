"""The contact policy's row and the contact ledger: what serving and campaigns check before an offer
reaches a customer, and what they record once it has."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypedDict

from sqlalchemy.orm import Session

from app.clock import utcnow
from app.store.dialect import insert
from app.store.tables import Contact, Policy

POLICY = "default"


def get_policy(session: Session) -> dict[str, Any] | None:
    row = session.get(Policy, POLICY)
    return dict(row.body) if row is not None else None


def put_policy(session: Session, body: dict[str, Any]) -> None:
    stmt = insert(session, Policy).values(name=POLICY, body=body, updated_at=utcnow())
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["name"], set_={"body": stmt.excluded.body, "updated_at": stmt.excluded.updated_at}
        )
    )


class ContactRow(TypedDict):
    customer_id: str
    channel: str
    recommendation_id: str
    campaign_id: str | None
    contacted_at: datetime


def record_contacts(session: Session, rows: Sequence[ContactRow]) -> int:
    """Record contacts not recorded before (one per offer and channel); returns how many were new."""
    if not rows:
        return 0
    ordered = sorted(rows, key=lambda r: (r["recommendation_id"], r["channel"]))
    stmt = (
        insert(session, Contact)
        .on_conflict_do_nothing(index_elements=["recommendation_id", "channel"])
        .returning(Contact.id)
    )
    return len(session.execute(stmt, ordered).all())


@dataclass
class ContactState:
    """What the policy looks at for one customer as of a moment (app/store/contact_read.py reads it):
    consent, contacts counted, the last dismissal, impressions and clicks."""

    known: bool = False
    consent: dict[str, bool] = field(default_factory=dict)  # channel -> consented
    # Per window in days (each cap's), per channel: the contacts in (now - window, now].
    window_counts: dict[int, dict[str, int]] = field(default_factory=dict)
    last_dismiss: datetime | None = None
    # (product, type, when) of impressions and clicks since the fatigue window began, oldest first
    reactions: list[tuple[str, str, datetime]] = field(default_factory=list)
