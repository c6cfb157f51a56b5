"""Audiences for campaigns: the customers who match a segment, their moment (how likely still
active, orders expected, refills due), their expected spend and the contact policy (preferred
channel, consent), as of a moment, paged in customer-id order.

The figures are those of the profiles, from the customer base (app/customers/base.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from app.customers.base import Bases
from app.customers.profiles import refills_due
from app.db import Session
from app.serving.loaded import Loaded
from app.store.customers import CHANNELS, CONSENTS, contacts

__all__ = ["CHANNELS", "CONSENTS", "Audience", "audience"]


@dataclass(frozen=True)
class Audience:
    """What a customer must match; None leaves a criterion out."""

    segments: frozenset[str] | None = None
    min_p_active: float | None = None
    max_p_active: float | None = None
    min_expected: float | None = None
    min_expected_spend: float | None = None  # over the next 90 days
    due_within_days: float | None = None  # a refill due within this many days (or overdue within a cycle)
    channel: str | None = None  # their preferred channel
    consent: str | None = None  # the channel they consented to be contacted on


def audience(
    session: Session,
    bases: Bases,
    loaded: Loaded,
    *,
    as_of: datetime | None,
    rule: Audience,
    limit: int,
    after: str | None,
) -> dict[str, Any]:
    """Up to ``limit`` matching customers with ids after ``after``, and the cursor for the next page."""
    base = bases.get(session, loaded, as_of)
    as_of = base.as_of
    due = None
    if rule.due_within_days is not None:  # who has a refill due in that window
        due = np.zeros(len(base.data.customers), dtype=bool)
        due[refills_due(base, loaded, base.lines, rule.due_within_days).customer] = True
    act, codes = base.act, base.data.customers
    found: list[dict[str, Any]] = []
    more = False
    with contacts(session, channel=rule.channel, consent=rule.consent, after=after) as rows:
        for customer_id, channel in rows:
            found_code = codes.get(customer_id)
            code = found_code if found_code is not None else -1
            buyer = code >= 0 and act.orders[code] > 0
            segment = base.segment[code] if buyer else "prospect"
            p_active = float(base.p_active[code]) if buyer else 0.0
            expected = float(base.expected[code]) if buyer else 0.0
            # As shown (to the cent): a filter at a value read off a listing keeps that customer.
            spend = round(float(base.spend_90d[code]), 2) if buyer else 0.0
            if (
                (rule.segments is not None and segment not in rule.segments)
                or (rule.min_p_active is not None and p_active < rule.min_p_active)
                or (rule.max_p_active is not None and p_active > rule.max_p_active)
                or (rule.min_expected is not None and expected < rule.min_expected)
                or (rule.min_expected_spend is not None and spend < rule.min_expected_spend)
                or (due is not None and not (buyer and due[code]))
            ):
                continue
            if len(found) == limit:
                more = True
                break
            found.append(
                {
                    "customer_id": customer_id,
                    "segment": segment,
                    "recency_days": round(float(act.last_age[code]), 3) if buyer else None,
                    "frequency": int(act.orders[code]) if buyer else 0,
                    "monetary": round(float(act.monetary[code]), 2) if code >= 0 else 0.0,
                    "p_active": round(p_active, 6),
                    "expected_purchases_30d": round(expected, 6),
                    "expected_spend_90d": spend,
                    "preferred_channel": channel,
                }
            )
    return {
        "as_of": as_of.isoformat() + "Z",
        "customers": found,
        "next_after": found[-1]["customer_id"] if more else None,
    }
