"""Attribution: what offers earned. A purchase by the customer of a product offered to them within
the attribution window after the offer is a conversion of that offer, with its revenue, whether or
not a ``conversion`` event was sent; each purchase line counts once, for the latest offer of that
product before it (last touch). A ``conversion`` event on an offer with no such purchase counts as
a conversion without revenue.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from app.db import Session
from app.ml.dataset import Dataset, from_day, to_day
from app.store import attribution as store
from app.store.attribution import OfferRow
from app.store.purchase_cache import PurchaseCache

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


@dataclass(frozen=True)
class Scored:
    """One offer made with what it earned."""

    offer: OfferRow
    impressions: int
    clicks: int
    conversions: int
    revenue: float


def offered_purchases(
    data: Dataset, offers: list[OfferRow], start: datetime, end: datetime
) -> list[tuple[str, str, float, datetime]]:
    """(customer, product, revenue, when) of the purchase lines (not returns) in [start, end) of a
    product offered to its buyer, in time order: the only lines that can convert an offer."""
    n = len(data.products)
    offered = {
        code * n + product
        for offer in offers
        if (code := data.customers.get(offer.customer_id)) is not None
        for p in offer.products
        if (product := data.products.get(p)) is not None
    }
    if not offered:
        return []
    keys = data.customer * n + data.product
    keep = (data.day >= to_day(start)) & (data.day < to_day(end)) & (data.quantity > 0)
    keep &= np.isin(keys, np.fromiter(offered, dtype=np.int64, count=len(offered)))
    at = np.nonzero(keep)[0]
    at = at[np.argsort(data.day[at], kind="stable")]
    customers, products = data.customers.ids, data.products.ids
    return [
        (customers[c], products[p], s, from_day(d))
        for c, p, s, d in zip(
            data.customer[at].tolist(),
            data.product[at].tolist(),
            data.spend[at].tolist(),
            data.day[at].tolist(),
            strict=True,
        )
    ]


def scored_offers(
    session: Session, purchases: PurchaseCache, *, start: datetime, end: datetime, window_days: float
) -> list[Scored]:
    """The offers made in [start, end) that offered something (an experiment's holdout offers
    nothing), each with its impressions, clicks, conversions and revenue. The purchases come from
    the app's copy of them (brought up to date first)."""
    window = timedelta(days=window_days)
    offers = list(store.offers(session, start, end))
    data = purchases.dataset(session, before=end + window)
    outcomes = attribute(offers, offered_purchases(data, offers, start, end + window), window)
    events = store.feedback_counts(session, start, end)
    extra: dict[str, set[str]] = defaultdict(set)
    for rec, product in store.conversion_events(session, start, end):
        extra[rec].add(product)
    scored = []
    for offer in offers:
        if not offer.products:
            continue
        counts = events.get(offer.recommendation_id, {})
        outcome = outcomes.get(offer.recommendation_id)
        converted = set(outcome.converted) if outcome is not None else set()
        scored.append(
            Scored(
                offer,
                counts.get("impression", 0),
                counts.get("click", 0),
                len(converted | extra.get(offer.recommendation_id, set())),
                outcome.revenue if outcome is not None else 0.0,
            )
        )
    return scored


def grouped(scored: Iterable[Scored], key: Callable[[Scored], str | None]) -> list[dict[str, Any]]:
    """Sums per key (None last), with CTR (clicks per impression) and conversion rate
    (conversions per offer)."""
    groups: dict[str | None, dict[str, Any]] = {}
    for s in scored:
        k = key(s)
        g = groups.setdefault(
            k, {"key": k, "offers": 0, "impressions": 0, "clicks": 0, "conversions": 0, "revenue": 0.0}
        )
        g["offers"] += 1
        g["impressions"] += s.impressions
        g["clicks"] += s.clicks
        g["conversions"] += s.conversions
        g["revenue"] += s.revenue
    rows = []
    for g in sorted(groups.values(), key=lambda g: (g["key"] is None, str(g["key"]))):
        g["revenue"] = round(g["revenue"], 2)
        g["ctr"] = round(g["clicks"] / g["impressions"], 6) if g["impressions"] else 0.0
        g["conversion_rate"] = round(g["conversions"] / g["offers"], 6) if g["offers"] else 0.0
        rows.append(g)
    return rows


def offer_metrics(
    session: Session,
    purchases: PurchaseCache,
    *,
    group_by: str,
    start: datetime,
    end: datetime,
    window_days: float,
) -> dict[str, Any]:
    """Offers made in [start, end), grouped by ``group_by`` (one of GROUPS)."""
    scored = scored_offers(session, purchases, start=start, end=end, window_days=window_days)
    return {
        "group_by": group_by,
        "from": start.isoformat() + "Z",
        "to": end.isoformat() + "Z",
        "groups": grouped(scored, lambda s: s.offer.groups[group_by]),
    }
