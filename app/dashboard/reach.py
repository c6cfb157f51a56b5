"""The Reach view: impressions, CTR, conversions and attributed revenue over time and per strategy,
channel, campaign and variant; experiments with each variant's uplift and interval; campaigns; the
contact policy. The tables are GET /v1/metrics/offers's for the window shown."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from app.api.campaigns import describe as describe_campaign
from app.customers.attribution import Scored, grouped, scored_offers
from app.customers.experiments import results
from app.db import Session
from app.serving.policy import load
from app.store import attribution as store_attribution
from app.store import campaigns, experiments
from app.store.purchase_cache import PurchaseCache

GROUPS = ("strategy", "channel", "campaign", "variant")
WINDOW_DAYS = 30  # the tables: GET /v1/metrics/offers's default window
WEEKS = 12  # the chart


def _iso(moment: datetime) -> str:
    return moment.isoformat() + "Z"


def reach(
    session: Session, purchases: PurchaseCache, *, now: datetime, attribution_days: float
) -> dict[str, Any]:
    start = now - timedelta(days=WINDOW_DAYS)
    first_week = now - timedelta(weeks=WEEKS)
    history = scored_offers(session, purchases, start=first_week, end=now, window_days=attribution_days)
    # An offer's outcome depends only on the offers after it (last touch), so the window's offers
    # score as GET /v1/metrics/offers scores them for that window alone.
    scored = [s for s in history if s.offer.created_at >= start]
    tables = {g: grouped(scored, lambda s, g=g: s.offer.groups[g]) for g in GROUPS}  # type: ignore[misc]

    def week(s: Scored) -> str:
        return str(min(WEEKS - 1, int((s.offer.created_at - first_week) / timedelta(weeks=1))))

    by_week = {int(row["key"]): row for row in grouped(history, week)}
    weeks = [by_week.get(w) for w in range(WEEKS)]
    found = []
    for row in experiments.newest_first(session):
        found.append(
            {
                "name": row.name,
                "active": row.active,
                "results": results(session, purchases, row.name, window_days=attribution_days),
            }
        )
    return {
        "from": _iso(start),
        "to": _iso(now),
        "tables": tables,
        "weeks": {
            "labels": [(first_week + timedelta(weeks=w)).date().isoformat() for w in range(WEEKS)],
            **{
                field: [row[field] if row else 0 for row in weeks]
                for field in ("offers", "impressions", "clicks", "conversions", "revenue", "ctr")
            },
        },
        "experiments": found,
        "campaigns": [describe_campaign(r) for r in campaigns.newest_first(session, limit=20)],
        "policy": load(session).to_body(),
        "attribution_days": attribution_days,
        "latest_offer": latest.date() if (latest := store_attribution.latest_offer(session)) else None,
    }
