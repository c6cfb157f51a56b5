"""The customer base by segment: customers, revenue and shares, the revenue expected over the next
90 days, and the Pareto curve of revenue."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np

from app.customers.base import Bases
from app.customers.profiles import iso
from app.db import Session
from app.ml.rfm import SEGMENTS, pareto
from app.serving.loaded import Loaded
from app.store.customers import count_prospects


def segment_summary(
    session: Session, bases: Bases, loaded: Loaded, *, as_of: datetime | None
) -> dict[str, Any]:
    """Customers, revenue and shares per segment, and the Pareto view of revenue, as of ``as_of``.

    Prospects are the customers in the store who have never bought anything."""
    base = bases.get(session, loaded, as_of)
    as_of = base.as_of
    buyers = base.act.buyers
    never = count_prospects(session)
    revenue = base.act.monetary
    total_revenue = float(revenue[buyers].sum())
    names = np.array(base.segment, dtype=object)
    counts = {s: int(((names == s) & buyers).sum()) for s in SEGMENTS}
    counts["prospect"] = never
    total_customers = sum(counts.values())
    rows = []
    for s in SEGMENTS:
        spent = float(revenue[(names == s) & buyers].sum()) if s != "prospect" else 0.0
        expected = float(base.spend_90d[(names == s) & buyers].sum()) if s != "prospect" else 0.0
        rows.append(
            {
                "segment": s,
                "customers": counts[s],
                "revenue": round(spent, 2),
                "share_customers": round(counts[s] / total_customers, 6) if total_customers else 0.0,
                "share_revenue": round(spent / total_revenue, 6) if total_revenue else 0.0,
                "expected_revenue_90d": round(expected, 2),
            }
        )
    top20, curve = pareto(revenue[buyers])
    return {
        "as_of": iso(as_of),
        "customers": total_customers,
        "buyers": int(buyers.sum()),
        "revenue": round(total_revenue, 2),
        "expected_revenue_90d": round(float(base.spend_90d[buyers].sum()), 2),
        "segments": rows,
        "pareto": {
            "top_20_percent_revenue_share": round(top20, 6),
            "curve": [{"customers": round(c, 4), "revenue": round(r, 6)} for c, r in curve],
        },
    }
