"""The reads attribution makes: the offers of a period, the feedback on them, and the purchases
that may be their conversions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.store.tables import Feedback, Recommendation


@dataclass(frozen=True)
class OfferRow:
    recommendation_id: str
    customer_id: str
    created_at: datetime
    products: tuple[str, ...]
    groups: dict[str, str | None]  # strategy, model_version, channel, campaign, experiment, variant


def offers(session: Session, start: datetime, end: datetime) -> Iterator[OfferRow]:
    """The offers made in [start, end), oldest first, streamed."""
    stmt = (
        select(
            Recommendation.recommendation_id,
            Recommendation.customer_id,
            Recommendation.created_at,
            Recommendation.product_ids,
            Recommendation.strategy,
            Recommendation.model_version,
            Recommendation.channel,
            Recommendation.campaign_id,
            Recommendation.experiment,
            Recommendation.variant,
        )
        .where(Recommendation.created_at >= start, Recommendation.created_at < end)
        .order_by(Recommendation.created_at)
        .execution_options(yield_per=5000)
    )
    with session.execute(stmt) as rows:
        for r in rows:
            products = r[3] if not isinstance(r[3], str) else json.loads(r[3])
            yield OfferRow(
                r[0],
                r[1],
                r[2],
                tuple(products),
                {
                    "strategy": r[4],
                    "model_version": r[5],
                    "channel": r[6],
                    "campaign": r[7],
                    "experiment": r[8],
                    "variant": r[9],
                },
            )


def feedback_counts(session: Session, start: datetime, end: datetime) -> dict[str, dict[str, int]]:
    """Per recommendation_id of an offer made in [start, end): how many events of each type."""
    stmt = (
        select(Feedback.recommendation_id, Feedback.type, func.count())
        .join(Recommendation, Recommendation.recommendation_id == Feedback.recommendation_id)
        .where(Recommendation.created_at >= start, Recommendation.created_at < end)
        .group_by(Feedback.recommendation_id, Feedback.type)
    )
    out: dict[str, dict[str, int]] = {}
    for rec, kind, n in session.execute(stmt):
        out.setdefault(rec, {})[kind] = int(n)
    return out


def conversion_events(session: Session, start: datetime, end: datetime) -> set[tuple[str, str]]:
    """(recommendation_id, product_id) of the conversion events on offers made in [start, end)."""
    stmt = (
        select(Feedback.recommendation_id, Feedback.product_id)
        .join(Recommendation, Recommendation.recommendation_id == Feedback.recommendation_id)
        .where(
            Recommendation.created_at >= start, Recommendation.created_at < end, Feedback.type == "conversion"
        )
    )
    return {(r[0], r[1]) for r in session.execute(stmt)}


def feedback_by_day(session: Session) -> list[tuple[str, str, int]]:
    """Feedback events per day they happened ("2011-03-04") and type, oldest first."""
    day = func.date(Feedback.occurred_at)
    rows = session.execute(
        select(day, Feedback.type, func.count()).group_by(day, Feedback.type).order_by(day)
    )
    return [(str(d), str(kind), int(n)) for d, kind, n in rows]


def latest_offer(session: Session) -> datetime | None:
    """When the latest offer was made."""
    return session.scalar(select(func.max(Recommendation.created_at)))
