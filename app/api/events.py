"""Ingest of purchase and feedback events: batched, validated row by row, idempotent."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from pydantic import BaseModel, TypeAdapter, ValidationError

from app.api.inputs import EventBatch, FeedbackEvent, PurchaseEvent
from app.api.responses import FeedbackResult, IngestResult, Rejected
from app.clock import utcnow
from app.config import Settings
from app.ingest.events import ERASED, Stored, store_feedback, store_purchases
from app.metrics import INGESTED
from app.serving.loaded import Serving
from app.web.deps import SessionDep, SettingsDep, WriteScope
from app.web.errors import ApiError, describe

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


def _answer(
    kind: str, valid: list[tuple[int, E]], rejected: list[Rejected], in_batch: int, outcome: Stored
) -> dict[str, Any]:
    """The counts of the answer (also to the metrics); events refused for an erased customer join
    the rejected ones, by their index in the batch."""
    for position in outcome.refused:
        rejected.append(Rejected(index=valid[position][0], error=ERASED))
    rejected.sort(key=lambda r: r.index)
    accepted = len(outcome.stored)
    duplicates = len(valid) - len(outcome.refused) - accepted + in_batch
    INGESTED.labels(kind, "rejected").inc(len(outcome.refused))
    INGESTED.labels(kind, "accepted").inc(accepted)
    INGESTED.labels(kind, "duplicate").inc(duplicates)
    return {"accepted": accepted, "duplicates": duplicates, "rejected": rejected}


@router.post("/purchases")
def post_purchases(
    request: Request, batch: EventBatch, session: SessionDep, settings: SettingsDep
) -> IngestResult:
    started = utcnow()
    valid, rejected, in_batch = _checked("purchases", batch, PurchaseEvent, settings)
    outcome = store_purchases(session, [e.row() for _, e in valid], started=started)
    if outcome.stored:
        serving: Serving = request.app.state.serving
        serving.purchases_changed()
    return IngestResult(**_answer("purchases", valid, rejected, in_batch, outcome))


@router.post("/feedback")
def post_feedback(batch: EventBatch, session: SessionDep, settings: SettingsDep) -> FeedbackResult:
    """Feedback on an offer nbo did not make is stored too (the offer may come from elsewhere), and
    counted apart as ``unattributed`` so that a client sending wrong ids sees it."""
    started = utcnow()
    valid, rejected, in_batch = _checked("feedback", batch, FeedbackEvent, settings)
    outcome = store_feedback(session, [e.row() for _, e in valid], started=started)
    INGESTED.labels("feedback", "unattributed").inc(outcome.unattributed)
    return FeedbackResult(
        **_answer("feedback", valid, rejected, in_batch, outcome), unattributed=outcome.unattributed
    )
