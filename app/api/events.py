"""Ingest of purchase and feedback events: batched, validated row by row, idempotent."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy.orm import Session

from app import store
from app.config import Settings
from app.deps import SessionDep, SettingsDep, WriteScope
from app.errors import ApiError, describe
from app.metrics import INGESTED
from app.recommendation_log import RECENT_SECONDS, issued_within
from app.schemas import (
    EventBatch,
    FeedbackEvent,
    FeedbackResult,
    IngestResult,
    PurchaseEvent,
    Rejected,
    utcnow,
)
from app.serving import Serving

router = APIRouter(prefix="/v1/events", tags=["events"], dependencies=[WriteScope])

E = TypeVar("E", bound=BaseModel)


def check_batch_size(count: int, settings: Settings, field: str) -> None:
    if count > settings.max_batch_events:
        raise ApiError(
            413, "too_many_events", f"{field}: {count} items, at most {settings.max_batch_events} a request"
        )


Checked = tuple[list[tuple[int, E]], list[Rejected], int]


def _validate(rows: Sequence[Any], model: type[E], settings: Settings) -> Checked[E]:
    adapter = TypeAdapter(model)
    context = {"max_future_skew_days": settings.max_future_skew_days}
    valid: list[tuple[int, E]] = []
    rejected: list[Rejected] = []
    seen: set[str] = set()
    in_batch_duplicates = 0
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            rejected.append(Rejected(index=index, error="event: must be a JSON object"))
            continue
        try:
            event = adapter.validate_python(row, context=context)
        except ValidationError as exc:
            rejected.append(Rejected(index=index, error=describe(exc.errors())))
            continue
        event_id: str = getattr(event, "event_id")  # noqa: B009 - every event model has one
        if event_id in seen:
            in_batch_duplicates += 1
            continue
        seen.add(event_id)
        valid.append((index, event))
    return valid, rejected, in_batch_duplicates


def _checked(kind: str, batch: EventBatch, model: type[E], settings: Settings) -> Checked[E]:
    check_batch_size(len(batch.events), settings, "events")
    valid, rejected, in_batch_duplicates = _validate(batch.events, model, settings)
    INGESTED.labels(kind, "rejected").inc(len(rejected))
    if rejected and not valid and not in_batch_duplicates:
        first = rejected[0]
        raise ApiError(
            422,
            "invalid_events",
            f"events[{first.index}]: {first.error}",
            rejected=[r.model_dump() for r in rejected],
        )
    return valid, rejected, in_batch_duplicates


ERASED = "customer_id: erased while this request ran, so not stored (send it again to record it anew)"


def _not_erased(
    session: Session, kind: str, valid: list[tuple[int, E]], rejected: list[Rejected], started: datetime
) -> list[E]:
    """The events to store: those of a customer whose erasure finished after this request began are
    refused, so that the erasure holds (this opens the write transaction)."""
    store.hold_writes(session)
    gone = store.erased_since(session, (getattr(e, "customer_id") for _, e in valid), started)  # noqa: B009
    kept = []
    for index, event in valid:
        if getattr(event, "customer_id") in gone:  # noqa: B009 - every event model has one
            rejected.append(Rejected(index=index, error=ERASED))
            INGESTED.labels(kind, "rejected").inc()
        else:
            kept.append(event)
    rejected.sort(key=lambda r: r.index)
    return kept


def _counted(kind: str, valid: int, accepted: int, in_batch_duplicates: int) -> tuple[int, int]:
    duplicates = valid - accepted + in_batch_duplicates
    INGESTED.labels(kind, "accepted").inc(accepted)
    INGESTED.labels(kind, "duplicate").inc(duplicates)
    return accepted, duplicates


@router.post("/purchases")
def post_purchases(
    request: Request, batch: EventBatch, session: SessionDep, settings: SettingsDep
) -> IngestResult:
    started = utcnow()
    checked, rejected, in_batch = _checked("purchases", batch, PurchaseEvent, settings)
    valid = _not_erased(session, "purchases", checked, rejected, started)
    stored = store.add_purchases(session, events=valid)
    session.commit()  # acknowledged only once committed
    if stored:
        serving: Serving = request.app.state.serving
        serving.purchases_changed()
    accepted, duplicates = _counted("purchases", len(valid), stored, in_batch)
    return IngestResult(accepted=accepted, duplicates=duplicates, rejected=rejected)


@router.post("/feedback")
def post_feedback(batch: EventBatch, session: SessionDep, settings: SettingsDep) -> FeedbackResult:
    """Feedback on an offer nbo did not make is stored too (the offer may come from elsewhere), and
    counted apart as ``unattributed`` so that a client sending wrong ids sees it."""
    started = utcnow()
    checked, rejected, in_batch = _checked("feedback", batch, FeedbackEvent, settings)
    valid = _not_erased(session, "feedback", checked, rejected, started)
    stored = set(store.add_feedback(session, events=valid))
    session.commit()  # acknowledged only once committed
    accepted, duplicates = _counted("feedback", len(valid), len(stored), in_batch)
    new = [e for e in valid if e.event_id in stored]
    # An answer given within the last minute may still be queued for writing, here or in another
    # process: its id says when it was issued.
    asked = {e.recommendation_id for e in new if not issued_within(e.recommendation_id, RECENT_SECONDS)}
    known = store.known_recommendations(session, asked)
    unattributed = sum(1 for e in new if e.recommendation_id in asked - known)
    INGESTED.labels("feedback", "unattributed").inc(unattributed)
    return FeedbackResult(
        accepted=accepted, duplicates=duplicates, rejected=rejected, unattributed=unattributed
    )
