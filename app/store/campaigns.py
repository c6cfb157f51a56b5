"""Campaign rows, their sends (contacts and the offers they carried) and the recipients' export."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypedDict

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from app.clock import utcnow
from app.store.dialect import insert, is_postgresql
from app.store.erasure import begin_write
from app.store.tables import Campaign, Contact, Recommendation

# Campaign sends hold this lock (PostgreSQL) while they check the caps and record: two campaigns
# running at once take turns batch by batch, so that together they never exceed a cap; impressions
# (contacts the shop made) are recorded under it too, between two batches.
CAMPAIGN_LOCK = 0x6E626F_CA


def create(session: Session, *, campaign_id: str, name: str, spec: dict[str, Any], status: str) -> Campaign:
    row = Campaign(
        campaign_id=campaign_id,
        name=name,
        spec=spec,
        status=status,
        recipients=0,
        skipped={},
        progress={},
        preview=[],
        created_at=utcnow(),
    )
    session.add(row)
    session.flush()
    return row


def get(session: Session, campaign_id: str) -> Campaign | None:
    return session.get(Campaign, campaign_id)


def newest_first(session: Session, limit: int = 100) -> Sequence[Campaign]:
    return session.scalars(select(Campaign).order_by(Campaign.created_at.desc()).limit(limit)).all()


def update_counts(
    session: Session,
    campaign_id: str,
    *,
    recipients: int,
    skipped: dict[str, int],
    progress: dict[str, Any],
    preview: list[dict[str, Any]] | None = None,
    status: str | None = None,
    error: str | None = None,
) -> None:
    values: dict[str, Any] = {"recipients": recipients, "skipped": skipped, "progress": progress}
    if preview is not None:
        values["preview"] = preview
    if status is not None:
        values.update(status=status, finished_at=utcnow() if status in ("done", "failed") else None)
    if error is not None:
        values["error"] = error
    session.execute(update(Campaign).where(Campaign.campaign_id == campaign_id).values(**values))


def fail_running(session: Session, error: str, campaign_ids: Sequence[str] | None = None) -> int:
    """Mark failed the campaigns still running (all, or those named)."""
    stmt = update(Campaign).where(Campaign.status == "running")
    if campaign_ids is not None:
        stmt = stmt.where(Campaign.campaign_id.in_(list(campaign_ids)))
    result = session.execute(stmt.values(status="failed", error=error, finished_at=utcnow()))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def fail_stale(session: Session, before: datetime, error: str) -> int:
    """Mark failed the campaigns still running whose last batch (or start) was before ``before``."""
    stale = []
    for row in session.scalars(select(Campaign).where(Campaign.status == "running")):
        at = (row.progress or {}).get("at")
        last = datetime.fromisoformat(at.removesuffix("Z")) if at else row.created_at
        if last < before:
            stale.append(row.campaign_id)
    return fail_running(session, error, stale) if stale else 0


def hold_sends(session: Session) -> None:
    """Begin a batch of sends (or of impressions) that no other campaign's batch interleaves with.
    The first statement of its transaction, after app/store/erasure.py's hold_writes."""
    if is_postgresql(session):
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CAMPAIGN_LOCK})
    else:
        begin_write(session)


class SendRow(TypedDict):
    recommendation_id: str
    customer_id: str
    channel: str
    campaign_id: str
    model_version: str | None
    strategy: str
    product_ids: list[str]
    sent_at: datetime
    experiment: str | None
    variant: str | None
    contacted: bool  # False: an experiment's holdout, reached by the campaign but sent nothing


def record_sends(session: Session, rows: Sequence[SendRow]) -> None:
    """Each send as the offer it carried (what attribution and experiments read) and, unless it is
    a holdout's, as a contact in the ledger."""
    if not rows:
        return
    session.execute(
        insert(session, Recommendation),
        [
            {
                "recommendation_id": r["recommendation_id"],
                "customer_id": r["customer_id"],
                "model_version": r["model_version"],
                "strategy": r["strategy"],
                "product_ids": r["product_ids"],
                "created_at": r["sent_at"],
                "channel": r["channel"],
                "campaign_id": r["campaign_id"],
                "experiment": r["experiment"],
                "variant": r["variant"],
            }
            for r in rows
        ],
    )
    contacted = [r for r in rows if r["contacted"]]
    if not contacted:
        return
    session.execute(
        insert(session, Contact),
        [
            {
                "customer_id": r["customer_id"],
                "channel": r["channel"],
                "recommendation_id": r["recommendation_id"],
                "campaign_id": r["campaign_id"],
                "contacted_at": r["sent_at"],
            }
            for r in contacted
        ],
    )


@contextmanager
def recipients(session: Session, campaign_id: str) -> Iterator[Iterator[dict[str, Any]]]:
    """The campaign's recipients in customer-id order, streamed."""
    stmt = (
        select(Contact.customer_id, Contact.channel, Contact.recommendation_id, Recommendation.product_ids)
        .join(Recommendation, Recommendation.recommendation_id == Contact.recommendation_id)
        .where(Contact.campaign_id == campaign_id)
        .order_by(Contact.customer_id)
        .execution_options(yield_per=1000)
    )
    with session.execute(stmt) as rows:
        yield (
            {
                "customer_id": r[0],
                "channel": r[1],
                "recommendation_id": r[2],
                "offers": list(r[3]) if not isinstance(r[3], str) else json.loads(r[3]),
            }
            for r in rows
        )
