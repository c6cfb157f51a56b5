"""Experiments' results: per variant, the customers it reached, how many bought within the
attribution window after it first reached them, their revenue, and the uplift over control in
revenue per customer with its 95 % interval. Control is the holdout variant, else the first.

Every purchase counts, offered or not: a holdout is offered nothing, so only the customers' whole
spending compares the arms fairly."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from app.db import Session
from app.ml.dataset import Dataset, to_day
from app.ml.uplift import uplift
from app.store import experiments as store
from app.store.purchase_cache import PurchaseCache


def spending(
    data: Dataset, exposed: dict[str, tuple[str, datetime]], window_days: float
) -> tuple[dict[str, float], set[str]]:
    """Each reached customer's spend (returns netted) within the window after the experiment first
    reached them, and who bought something in it."""
    first = np.full(len(data.customers), np.nan)
    for customer, (_, when) in exposed.items():
        code = data.customers.get(customer)
        if code is not None:
            first[code] = to_day(when)
    start = first[data.customer]
    keep = (data.day >= start) & (data.day <= start + window_days)  # NaN: never reached
    who, spend = data.customer[keep], data.spend[keep]
    total = np.bincount(who, weights=spend, minlength=len(data.customers))
    buyers = np.unique(who[spend > 0])
    ids = data.customers.ids
    spent = {ids[c]: float(total[c]) for c in np.unique(who).tolist()}
    return spent, {ids[c] for c in buyers.tolist()}


def results(
    session: Session, purchases: PurchaseCache, name: str, *, window_days: float
) -> dict[str, Any] | None:
    """The experiment's results, from the app's copy of the purchases (brought up to date first)."""
    row = store.get(session, name)
    if row is None:
        return None
    exposed = store.exposures(session, name)
    spent: dict[str, float] = defaultdict(float)
    bought: set[str] = set()
    if exposed:
        last = max(when for _, when in exposed.values()) + timedelta(days=window_days, milliseconds=1)
        found, bought = spending(purchases.dataset(session, before=last), exposed, window_days)
        spent.update(found)
    members: dict[str, list[str]] = defaultdict(list)
    for customer, (variant, _) in exposed.items():
        members[variant].append(customer)
    variants = [v["name"] for v in row.variants]
    control = next((v["name"] for v in row.variants if v.get("holdout")), variants[0])
    control_revenue = np.array([spent[c] for c in members[control]], dtype=np.float64)
    out = []
    for variant in variants:
        customers = members[variant]
        spend = np.array([spent[c] for c in customers], dtype=np.float64)
        conversions = sum(1 for c in customers if c in bought)
        lift = None if variant == control else uplift(spend, control_revenue)
        out.append(
            {
                "name": variant,
                "control": variant == control,
                "customers": len(customers),
                "conversions": conversions,
                "revenue": round(float(spend.sum()), 2),
                "revenue_per_customer": round(float(spend.mean()), 4) if customers else 0.0,
                "conversion_rate": round(conversions / len(customers), 6) if customers else 0.0,
                "uplift_vs_control": (
                    {"estimate": round(lift[0], 4), "ci95": [round(lift[1][0], 4), round(lift[1][1], 4)]}
                    if lift is not None
                    else None
                ),
            }
        )
    return {"name": name, "active": row.active, "window_days": window_days, "variants": out}
