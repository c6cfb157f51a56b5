"""Knowing each client: profiles and the customer base by segment."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import AfterValidator

from app.api.inputs import no_nul
from app.api.offers import loaded_model
from app.api.params import AsOf, PathId
from app.api.responses import AudienceOut, ProfileOut, SegmentsOut
from app.customers.audiences import CHANNELS, CONSENTS, Audience, audience
from app.customers.base import Bases
from app.customers.profiles import profile
from app.customers.segments import segment_summary
from app.ml.rfm import SEGMENTS
from app.store.tables import ID_LENGTH
from app.web.deps import AdminScope, ReadScope, SessionDep
from app.web.errors import ApiError

router = APIRouter(prefix="/v1", tags=["customers"])
read = APIRouter(dependencies=[ReadScope])
# An audience export carries spend, segment, channel and consent: not for a shop front end's key.
admin = APIRouter(dependencies=[AdminScope])


def _bases(request: Request) -> Bases:
    bases: Bases = request.app.state.derived.bases
    return bases


@read.get("/customers/{customer_id:id}/profile", response_model=None, responses={200: {"model": ProfileOut}})
def get_profile(
    request: Request,
    session: SessionDep,
    customer_id: PathId,
    as_of: AsOf = None,
) -> dict[str, Any]:
    found = profile(session, _bases(request), loaded_model(request), customer_id=customer_id, as_of=as_of)
    if found is None:
        raise ApiError(404, "not_found", f"customer_id: no data about {customer_id!r}")
    return found


@read.get("/segments", response_model=None, responses={200: {"model": SegmentsOut}})
def get_segments(request: Request, session: SessionDep, as_of: AsOf = None) -> dict[str, Any]:
    return segment_summary(session, _bases(request), loaded_model(request), as_of=as_of)


def _one_of(field: str, value: str | None, allowed: tuple[str, ...]) -> str | None:
    if value is not None and value not in allowed:
        raise ApiError(422, "invalid_request", f"{field}: {value!r} is not one of {', '.join(allowed)}")
    return value


@admin.get("/customers", response_model=None, responses={200: {"model": AudienceOut}})
def list_customers(
    request: Request,
    session: SessionDep,
    segment: Annotated[str | None, Query(description="one or several segments, comma-separated")] = None,
    min_p_active: Annotated[float | None, Query(ge=0.0, le=1.0)] = None,
    max_p_active: Annotated[float | None, Query(ge=0.0, le=1.0)] = None,
    min_expected_purchases: Annotated[float | None, Query(ge=0.0)] = None,
    min_expected_spend_90d: Annotated[
        float | None, Query(ge=0.0, description="what the client is expected to spend over 90 days")
    ] = None,
    due_within_days: Annotated[float | None, Query(ge=0.0, le=365.0)] = None,
    channel: str | None = None,
    consent: str | None = None,
    as_of: AsOf = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    after: Annotated[str | None, Query(min_length=1, max_length=ID_LENGTH), AfterValidator(no_nul)] = None,
) -> dict[str, Any]:
    """An audience for a campaign: the customers matching every filter given, by customer id; the
    answer's ``next_after`` asks for the next page."""
    segments = None
    if segment is not None:
        segments = frozenset(s.strip() for s in segment.split(","))
        for name in segments:
            _one_of("segment", name, SEGMENTS)
    rule = Audience(
        segments=segments,
        min_p_active=min_p_active,
        max_p_active=max_p_active,
        min_expected=min_expected_purchases,
        min_expected_spend=min_expected_spend_90d,
        due_within_days=due_within_days,
        channel=_one_of("channel", channel, CHANNELS),
        consent=_one_of("consent", consent, CONSENTS),
    )
    return audience(
        session, _bases(request), loaded_model(request), as_of=as_of, rule=rule, limit=limit, after=after
    )


router.include_router(read)
router.include_router(admin)
