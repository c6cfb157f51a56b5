"""Ingest of purchase and feedback events, validated rows in: stored once each, never for a customer
whose erasure finished after the request began, acknowledged only once committed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.db import Session
from app.store import campaigns, contacts, erasure, events
from app.store.contacts import ContactRow
from app.store.events import FeedbackRow, PurchaseRow
from app.store.recommendations import RECENT_SECONDS, issued_within

ERASED = "customer_id: erased while this request ran, so not stored (send it again to record it anew)"


@dataclass
class Stored:
    stored: list[int] = field(default_factory=list)  # positions of the rows stored now
    refused: list[int] = field(default_factory=list)  # positions refused: their customer was erased
    unattributed: int = 0  # feedback stored now on a recommendation nbo has no record of


def _not_erased(session: Session, rows: Sequence[Any], started: datetime) -> tuple[list[int], list[int]]:
    """Positions kept and refused. Opens the write transaction that an erasure waits for."""
    gone = erasure.hold_writes(session, (r["customer_id"] for r in rows), started)
    kept = [i for i, r in enumerate(rows) if r["customer_id"] not in gone]
    refused = [i for i, r in enumerate(rows) if r["customer_id"] in gone]
    return kept, refused


def store_purchases(session: Session, rows: Sequence[PurchaseRow], *, started: datetime) -> Stored:
    """Store the purchases whose event_id is new; ``started`` is when the request began."""
    kept, refused = _not_erased(session, rows, started)
    ids = set(events.add_purchases(session, [rows[i] for i in kept]))
    session.commit()
    return Stored([i for i in kept if rows[i]["event_id"] in ids], refused)


def store_feedback(session: Session, rows: Sequence[FeedbackRow], *, started: datetime) -> Stored:
    """Store the feedback whose event_id is new. Feedback on an offer nbo did not make is stored too
    (the offer may come from elsewhere), and counted apart as unattributed."""
    kept, refused = _not_erased(session, rows, started)
    if any(rows[i]["type"] == "impression" for i in kept):
        # An impression is a contact, recorded between two of a campaign's batches, never while
        # one checks the caps and sends: else both could take a customer's last place under a cap.
        campaigns.hold_sends(session)
    ids = set(events.add_feedback(session, [rows[i] for i in kept]))
    new = [i for i in kept if rows[i]["event_id"] in ids]
    # An impression is a contact: the caps count it (a page without a channel is the shop's web).
    contacts.record_contacts(
        session,
        [
            ContactRow(
                customer_id=rows[i]["customer_id"],
                channel=rows[i]["channel"] or "web",
                recommendation_id=rows[i]["recommendation_id"],
                campaign_id=None,
                contacted_at=rows[i]["occurred_at"],
            )
            for i in new
            if rows[i]["type"] == "impression"
        ],
    )
    session.commit()
    # An answer given within the last minute may still be queued for writing, here or in another
    # process: its id says when it was issued.
    asked = {
        rows[i]["recommendation_id"]
        for i in new
        if not issued_within(rows[i]["recommendation_id"], RECENT_SECONDS)
    }
    unknown = asked - events.known_recommendations(session, asked)
    return Stored(new, refused, sum(1 for i in new if rows[i]["recommendation_id"] in unknown))
