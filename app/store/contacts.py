"""The contact policy's row and the contact ledger: what serving and campaigns check before an offer
reaches a customer, and what they record once it has."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypedDict

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import utcnow
from app.store.dialect import insert
from app.store.tables import Contact, Customer, Feedback, Policy

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
    """What the policy looks at for one customer: consent, contacts, dismissals, impressions."""

    known: bool = False
    consent: dict[str, bool] = field(default_factory=dict)  # channel -> consented
    contacts: list[tuple[str, datetime]] = field(default_factory=list)  # (channel, when), since the window
    last_dismiss: datetime | None = None
    # (product, type, when) of impressions and clicks since the fatigue window began, oldest first
    reactions: list[tuple[str, str, datetime]] = field(default_factory=list)
    # Or, as the database counted them (app/store/contact_read.py): per window in days, per channel,
    # the contacts in (now - window, now]
    window_counts: dict[int, dict[str, int]] | None = None


def contact_states(
    session: Session, customer_ids: Iterable[str], *, contacts_since: datetime, feedback_since: datetime
) -> dict[str, ContactState]:
    """Each customer's contact state (a default one for a customer the store does not know)."""
    wanted = sorted(set(customer_ids))
    states = {c: ContactState() for c in wanted}
    for i in range(0, len(wanted), 500):
        chunk = wanted[i : i + 500]
        for row in session.execute(
            select(
                Customer.customer_id, Customer.consent_email, Customer.consent_sms, Customer.consent_phone
            ).where(Customer.customer_id.in_(chunk))
        ):
            state = states[row[0]]
            state.known = True
            state.consent = {"email": row[1] is True, "sms": row[2] is True, "phone": row[3] is True}
        for customer_id, channel, when in session.execute(
            select(Contact.customer_id, Contact.channel, Contact.contacted_at)
            .where(Contact.customer_id.in_(chunk), Contact.contacted_at >= contacts_since)
            .order_by(Contact.contacted_at)
        ):
            states[customer_id].contacts.append((channel, when))
        for customer_id, product_id, kind, when in session.execute(
            select(Feedback.customer_id, Feedback.product_id, Feedback.type, Feedback.occurred_at)
            .where(
                Feedback.customer_id.in_(chunk),
                Feedback.occurred_at >= feedback_since,
                Feedback.type.in_(("impression", "click", "dismiss")),
            )
            .order_by(Feedback.occurred_at)
        ):
            state = states[customer_id]
            if kind == "dismiss":
                state.last_dismiss = when
            else:
                state.reactions.append((product_id, kind, when))
    return states
