"""Ingest of purchase and feedback events: batched, validated row by row, idempotent."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from fastapi import APIRouter
from pydantic import BaseModel, TypeAdapter, ValidationError
from sqlalchemy.orm import Session

from app import store
from app.config import Settings
from app.deps import SessionDep, SettingsDep, WriteScope
from app.errors import ApiError, describe
from app.metrics import INGESTED
from app.schemas import EventBatch, FeedbackEvent, IngestResult, PurchaseEvent, Rejected

router = APIRouter(prefix="/v1/events", tags=["events"], dependencies=[WriteScope])

E = TypeVar("E", bound=BaseModel)


def check_batch_size(count: int, settings: Settings, field: str) -> None:
    if count > settings.max_batch_events:
        raise ApiError(
            413, "too_many_events", f"{field}: {count} items, at most {settings.max_batch_events} a request"
        )


def _validate(rows: Sequence[Any], model: type[E], settings: Settings) -> tuple[list[E], list[Rejected], int]:
    adapter = TypeAdapter(model)
    context = {"max_future_skew_days": settings.max_future_skew_days}
    valid: list[E] = []
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
        valid.append(event)
    return valid, rejected, in_batch_duplicates


def ingest(
    kind: str,
    batch: EventBatch,
    model: type[E],
    add: Callable[[Session, Sequence[E]], int],
    session: Session,
    settings: Settings,
) -> IngestResult:
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
    accepted = add(session, valid)
    session.commit()  # acknowledged only once committed
    duplicates = len(valid) - accepted + in_batch_duplicates
    INGESTED.labels(kind, "accepted").inc(accepted)
    INGESTED.labels(kind, "duplicate").inc(duplicates)
    return IngestResult(accepted=accepted, duplicates=duplicates, rejected=rejected)


@router.post("/purchases")
def post_purchases(batch: EventBatch, session: SessionDep, settings: SettingsDep) -> IngestResult:
    return ingest(
        "purchases", batch, PurchaseEvent, lambda s, ev: store.add_purchases(s, events=ev), session, settings
    )


@router.post("/feedback")
def post_feedback(batch: EventBatch, session: SessionDep, settings: SettingsDep) -> IngestResult:
    return ingest(
        "feedback", batch, FeedbackEvent, lambda s, ev: store.add_feedback(s, events=ev), session, settings
    )
