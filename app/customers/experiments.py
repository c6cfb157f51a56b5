"""Experiments' results: per variant, the customers it reached, how many bought within the
attribution window after it first reached them, their revenue, and the uplift over control in
revenue per customer with its 95 % interval. Control is the holdout variant, else the first.

Every purchase counts, offered or not: a holdout is offered nothing, so only the customers' whole
spending compares the arms fairly."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Any

import numpy as np

from app.db import Session
from app.ml.uplift import uplift
from app.store import experiments as store


def results(session: Session, name: str, *, window_days: float) -> dict[str, Any] | None:
    row = store.get(session, name)
    if row is None:
        return None
    exposed = store.exposures(session, name)
    window = timedelta(days=window_days)
    spent: dict[str, float] = defaultdict(float)
    bought: set[str] = set()
    if exposed:
        start = min(when for _, when in exposed.values())
        with store.purchases_since(session, start) as purchases:
            for customer, revenue, when in purchases:
                found = exposed.get(customer)
                if found is None or not found[1] <= when <= found[1] + window:
                    continue
                spent[customer] += revenue
                if revenue > 0:
                    bought.add(customer)
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
