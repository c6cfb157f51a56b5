"""Erasure: a customer's right to be forgotten."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from app import store
from app.api.params import PathId
from app.columns import columns_for
from app.deps import AdminScope, SessionDep
from app.recommendation_log import RecommendationLog
from app.training import Trainer

router = APIRouter(prefix="/v1", tags=["erasure"], dependencies=[AdminScope])


@router.delete("/customers/{customer_id:path}", status_code=204)
def erase_customer(customer_id: PathId, request: Request, session: SessionDep) -> Response:
    """Every row about the customer goes at once; a new version is trained without them, so that
    similar products and the next model carry no trace either. Erasing twice, or a customer never
    seen, is not an error."""
    deleted = store.erase_customer(session, customer_id=customer_id)
    session.commit()
    log: RecommendationLog = request.app.state.recommendation_log
    log.forget(customer_id)
    # An answer recorded between the delete and forget() was written by then: delete it too.
    deleted += store.erase_customer(session, customer_id=customer_id)
    session.commit()
    if not deleted:
        return Response(status_code=204)
    columns_for(session).refresh(session)  # profiles and segments in this process, at once
    trainer: Trainer = request.app.state.trainer
    trainer.retrain()
    return Response(status_code=204)
