"""Attribution: what offers earned. A purchase by the customer of a product offered to them within
the attribution window after the offer is a conversion of that offer, with its revenue, whether or
not a ``conversion`` event was sent; each purchase line counts once, for the latest offer of that
product before it (last touch). A ``conversion`` event on an offer with no such purchase counts as
a conversion without revenue.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from app.db import Session
from app.store import attribution as store
from app.store.attribution import OfferRow

GROUPS = ("strategy", "model_version", "channel", "campaign", "experiment", "variant")


@dataclass
class Outcome:
    """What one offer earned: the offered products bought in the window, and their revenue."""

    converted: set[str] = field(default_factory=set)
    revenue: float = 0.0


def attribute(
    offers: list[OfferRow], purchases: Iterable[tuple[str, str, float, datetime]], window: timedelta
) -> dict[str, Outcome]:
    """Each offer's outcome (by recommendation_id), from purchase lines in time order."""
    # Per (customer, product): the times of the offers that carried it, in order, and their ids.
    offered: dict[tuple[str, str], tuple[list[datetime], list[str]]] = defaultdict(lambda: ([], []))
    for offer in sorted(offers, key=lambda o: o.created_at):
        for product in offer.products:
            times, ids = offered[(offer.customer_id, product)]
            times.append(offer.created_at)
            ids.append(offer.recommendation_id)
    outcomes: dict[str, Outcome] = {}
    for customer, product, revenue, when in purchases:
        found = offered.get((customer, product))
        if found is None:
            continue
        times, ids = found
        i = bisect.bisect_right(times, when) - 1  # the latest offer at or before the purchase
        if i < 0 or when - times[i] > window:
            continue
        outcome = outcomes.setdefault(ids[i], Outcome())
        outcome.converted.add(product)
        outcome.revenue += revenue
    return outcomes


def offer_metrics(
    session: Session, *, group_by: str, start: datetime, end: datetime, window_days: float
) -> dict[str, Any]:
    """Offers made in [start, end), grouped: counts of offers, impressions, clicks, conversions and
    revenue, with CTR (clicks per impression) and conversion rate (conversions per offer)."""
    window = timedelta(days=window_days)
    offers = list(store.offers(session, start, end))
    outcomes = attribute(offers, store.purchases(session, start, end + window), window)
    events = store.feedback_counts(session, start, end)
    conversion_events = store.conversion_events(session, start, end)
    extra: dict[str, set[str]] = defaultdict(set)
    for rec, product in conversion_events:
        extra[rec].add(product)
    groups: dict[str | None, dict[str, Any]] = {}
    for offer in offers:
        if not offer.products:  # an experiment's holdout, reached and offered nothing
            continue
        key = offer.groups[group_by]
        g = groups.setdefault(
            key, {"key": key, "offers": 0, "impressions": 0, "clicks": 0, "conversions": 0, "revenue": 0.0}
        )
        g["offers"] += 1
        counts = events.get(offer.recommendation_id, {})
        g["impressions"] += counts.get("impression", 0)
        g["clicks"] += counts.get("click", 0)
        outcome = outcomes.get(offer.recommendation_id)
        converted = set(outcome.converted) if outcome is not None else set()
        g["conversions"] += len(converted | extra.get(offer.recommendation_id, set()))
        g["revenue"] += outcome.revenue if outcome is not None else 0.0
    rows = []
    for g in sorted(groups.values(), key=lambda g: (g["key"] is None, str(g["key"]))):
        g["revenue"] = round(g["revenue"], 2)
        g["ctr"] = round(g["clicks"] / g["impressions"], 6) if g["impressions"] else 0.0
        g["conversion_rate"] = round(g["conversions"] / g["offers"], 6) if g["offers"] else 0.0
        rows.append(g)
    return {
        "group_by": group_by,
        "from": start.isoformat() + "Z",
        "to": end.isoformat() + "Z",
        "groups": rows,
    }
