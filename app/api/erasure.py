"""Erasure: a customer's right to be forgotten."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from app.api.params import PathId
from app.customers.erasure import forget
from app.derived import Derived
from app.training.jobs import Trainer
from app.web.deps import AdminScope, SessionDep

router = APIRouter(prefix="/v1", tags=["erasure"], dependencies=[AdminScope])


@router.delete("/customers/{customer_id:path}", status_code=204)
def erase_customer(customer_id: PathId, request: Request, session: SessionDep) -> Response:
    """Every row about the customer goes at once, also what requests running meanwhile would write;
    every kept version trained on them is retired, and a new one is trained without them, which
    replaces (and retires) the active one. Erasing twice, or a customer never seen, is not an error."""
    trainer: Trainer = request.app.state.trainer
    derived: Derived = request.app.state.derived
    forget(session, customer_id, trainer=trainer, purchases=derived.purchases)
    return Response(status_code=204)
