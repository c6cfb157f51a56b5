"""Knowing each client: profiles and the customer base by segment."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request

from app.api.offers import loaded_model
from app.deps import ReadScope, SessionDep
from app.errors import ApiError
from app.profiles import profile, segment_summary
from app.schemas import to_naive_utc, utcnow
from app.tables import ID_LENGTH

router = APIRouter(prefix="/v1", tags=["customers"], dependencies=[ReadScope])


@router.get("/customers/{customer_id}/profile")
def get_profile(
    request: Request,
    session: SessionDep,
    customer_id: Annotated[str, Path(min_length=1, max_length=ID_LENGTH)],
    as_of: datetime | None = None,
) -> dict[str, Any]:
    moment = to_naive_utc(as_of) if as_of is not None else utcnow()
    found = profile(session, loaded_model(request), customer_id=customer_id, as_of=moment)
    if found is None:
        raise ApiError(404, "not_found", f"customer_id: no data about {customer_id!r}")
    return found


@router.get("/segments")
def get_segments(request: Request, session: SessionDep, as_of: datetime | None = None) -> dict[str, Any]:
    moment = to_naive_utc(as_of) if as_of is not None else utcnow()
    return segment_summary(session, loaded_model(request), as_of=moment)
