"""Experiment rows: their variants, and which one runs (one at a time)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.clock import utcnow
from app.store.dialect import insert
from app.store.tables import Experiment, Recommendation


def put(session: Session, name: str, variants: list[dict[str, Any]]) -> None:
    """Store the experiment and make it the one that runs (any other stops)."""
    now = utcnow()
    session.execute(update(Experiment).where(Experiment.name != name).values(active=False))
    stmt = insert(session, Experiment).values(
        name=name, variants=variants, active=True, created_at=now, updated_at=now
    )
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["name"],
            set_={"variants": stmt.excluded.variants, "active": True, "updated_at": stmt.excluded.updated_at},
        )
    )


def get(session: Session, name: str) -> Experiment | None:
    return session.get(Experiment, name)


def running(session: Session) -> tuple[str, list[dict[str, Any]]] | None:
    row = session.scalars(select(Experiment).where(Experiment.active.is_(True))).first()
    return (row.name, list(row.variants)) if row is not None else None


def stop(session: Session, name: str) -> bool:
    result = session.execute(update(Experiment).where(Experiment.name == name).values(active=False))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def exposures(session: Session, name: str) -> dict[str, tuple[str, datetime]]:
    """Each customer the experiment reached: their variant and when it first reached them."""
    stmt = (
        select(Recommendation.customer_id, Recommendation.variant, Recommendation.created_at)
        .where(Recommendation.experiment == name)
        .order_by(Recommendation.created_at)
    )
    first: dict[str, tuple[str, datetime]] = {}
    for customer, variant, when in session.execute(stmt):
        first.setdefault(customer, (variant or "", when))
    return first


def newest_first(session: Session, limit: int = 20) -> list[Experiment]:
    """The experiments, the running one first, then by when they were last changed."""
    stmt = select(Experiment).order_by(Experiment.active.desc(), Experiment.updated_at.desc()).limit(limit)
    return list(session.scalars(stmt))
