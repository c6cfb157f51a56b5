"""Measurement: what the offers earned, grouped by how they were made and where they went."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request

from app.api.params import AsOf
from app.api.responses import OfferMetrics
from app.clock import to_naive_utc, utcnow
from app.customers.attribution import offer_metrics
from app.web.deps import AdminScope, SessionDep, SettingsDep
from app.web.errors import ApiError

GroupBy = Literal["strategy", "model_version", "channel", "campaign", "experiment", "variant"]
router = APIRouter(prefix="/v1/metrics", tags=["reach"], dependencies=[AdminScope])


@router.get("/offers", response_model=None, responses={200: {"model": OfferMetrics}})
def get_offer_metrics(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    group_by: Literal[
        "strategy", "model_version", "channel", "campaign", "experiment", "variant"
    ] = "strategy",
    start: Annotated[
        AsOf, Query(alias="from", description="offers made from then (default: 30 days ago)")
    ] = None,
    end: Annotated[AsOf, Query(alias="to", description="offers made before then (default: now)")] = None,
) -> dict[str, Any]:
    """Purchases of an offered product within NBO_ATTRIBUTION_DAYS of the offer count as its
    conversions, with their revenue, once each."""
    stop = to_naive_utc(end) if end is not None else utcnow()
    begin = to_naive_utc(start) if start is not None else stop - timedelta(days=30)
    if begin >= stop:
        raise ApiError(422, "invalid_request", "from: must be before to")
    return offer_metrics(
        session,
        request.app.state.derived.purchases,
        group_by=group_by,
        start=begin,
        end=stop,
        window_days=settings.attribution_days,
    )
