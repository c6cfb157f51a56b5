"""The Overview: the base over time, ingest volume, and the version that serves with its quality."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from app.api.models import describe
from app.config import Settings
from app.customers.base import Base, Bases
from app.customers.segments import segment_summary
from app.db import Session
from app.ml.dataset import to_day
from app.ml.timeline import monthly
from app.serving.loaded import Loaded
from app.store import attribution, versions
from app.training.schedule import next_retrain

TASKS = ("repeat", "discovery")


def latest_purchase(base: Base) -> date | None:
    """The day of the latest purchase before the base's moment (a store whose data ends in the
    past is best looked at as of then)."""
    if len(base.lines) == 0:
        return None
    return (base.as_of - timedelta(days=float(base.lines.age_days.min()))).date()


def quality(metrics: dict[str, Any]) -> list[dict[str, Any]]:
    """NDCG per task: the version's, and each baseline's from the version's own evaluation."""
    evaluation = metrics.get("evaluation") or {}
    baselines = {
        name.removeprefix("baseline_"): value
        for name, value in sorted(metrics.items())
        if name.startswith("baseline_") and isinstance(value, dict)
    }
    rows = []
    for task in TASKS:
        ours = (evaluation.get(task) or {}).get("ndcg")
        if ours is None:
            continue
        rows.append(
            {
                "task": task,
                "ndcg": ours,
                "customers": (evaluation.get(task) or {}).get("customers"),
                "baselines": {b: (v.get(task) or {}).get("ndcg") for b, v in baselines.items()},
            }
        )
    return rows


def overview(
    session: Session, bases: Bases, loaded: Loaded, settings: Settings, now: datetime, as_of: datetime | None
) -> dict[str, Any]:
    """The figures as of ``as_of`` (None: now); the version's age and schedule as of ``now``."""
    summary = segment_summary(session, bases, loaded, as_of=as_of)
    base = bases.get(session, loaded, as_of)
    months = monthly(base.lines, to_day(base.as_of))
    feedback: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for day, kind, count in attribution.feedback_by_day(session):
        feedback[kind][day[:7]] += count
    active = versions.active(session)
    newest = versions.newest_first(session, limit=1)
    described = describe(active) if active is not None else None
    finished = active.finished_at if active is not None else None
    kinds = sorted(feedback)
    per_kind = {k: [feedback[k].get(m, 0) for m in months.months] for k in kinds}
    rows = [
        {
            "month": m,
            "customers": int(months.customers[i]),
            "orders": int(months.orders[i]),
            "revenue": round(float(months.revenue[i]), 2),
            "lines": int(months.lines[i]),
            "feedback": [per_kind[k][i] for k in kinds],
        }
        for i, m in enumerate(months.months)
    ]
    return {
        "as_of": summary["as_of"],
        "latest_purchase": latest_purchase(base),
        "customers": summary["customers"],
        "buyers": summary["buyers"],
        "revenue": summary["revenue"],
        "orders": int(base.act.orders.sum()),
        "months": rows,
        "feedback_kinds": kinds,
        "ingest": [{"label": "purchase lines", "data": months.lines.tolist()}]
        + [{"label": f"{k} events", "data": per_kind[k]} for k in kinds],
        "model": described,
        "serving": loaded.version,
        "quality": quality(described["metrics"]) if described else [],
        "age_hours": (now - finished).total_seconds() / 3600 if finished is not None else None,
        "next_retrain": next_retrain(newest[0].created_at if newest else None, settings.retrain_every_hours),
        "retrain_every_hours": settings.retrain_every_hours,
    }
