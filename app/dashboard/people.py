"""The Customers view: customers and revenue per segment, the Pareto curve, and the moment: who is
due to buy within 7, 14 and 30 days and how likely they are still active."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np

from app.customers.base import Bases
from app.customers.profiles import refills_due
from app.customers.segments import segment_summary
from app.dashboard.overview import latest_purchase
from app.db import Session
from app.serving.loaded import Loaded

DUE_DAYS = (7, 14, 30)
BINS = 10


def people(session: Session, bases: Bases, loaded: Loaded, as_of: datetime | None) -> dict[str, Any]:
    """The figures as of ``as_of`` (None: now)."""
    summary = segment_summary(session, bases, loaded, as_of=as_of)
    base = bases.get(session, loaded, as_of)
    buyers = base.act.buyers
    due = []
    # The audience GET /v1/customers?due_within_days=… selects: a refill due in the window. The
    # widest window's refills hold the others' (those due within fewer days).
    refills = refills_due(base, loaded, base.lines, max(DUE_DAYS))
    for days in DUE_DAYS:
        who = np.unique(refills.customer[refills.in_days <= days])
        who = who[buyers[who]]
        p = base.p_active[who]
        due.append(
            {
                "days": days,
                "customers": len(who),
                "mean_p_active": round(float(p.mean()), 4) if len(who) else None,
                "likely_active": int((p >= 0.5).sum()),
            }
        )
    counts, edges = np.histogram(base.p_active[buyers], bins=BINS, range=(0.0, 1.0))
    return {
        **summary,
        "latest_purchase": latest_purchase(base),
        "due": due,
        "expected_30d": round(float(base.expected[buyers].sum()), 1),
        "p_active": {
            "labels": [f"{edges[i]:.1f}–{edges[i + 1]:.1f}" for i in range(BINS)],
            "customers": counts.tolist(),
        },
    }
