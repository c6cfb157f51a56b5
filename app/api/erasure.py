"""Erasure: a customer's right to be forgotten."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from app.api.params import PathId
from app.customers.erasure import forget
from app.derived import Derived
from app.training.jobs import Trainer
from app.web.deps import AdminScope, SessionDep
from app.web.errors import ApiError, allowed_methods

router = APIRouter(prefix="/v1", tags=["erasure"], dependencies=[AdminScope])


async def encoded_id(request: Request) -> None:
    """A "/" in an id must come percent-encoded: DELETE /v1/customers/c1/offers is not an erasure of
    "c1/offers" (the router sees decoded paths, so only the raw path tells them apart). A dependency,
    so that it runs before the id itself is validated."""
    raw = request.scope.get("raw_path", b"").split(b"/v1/customers/", 1)[-1]
    if b"/" not in raw:
        return
    # The path of another operation (GET …/offers): DELETE is not one of its methods.
    if others := allowed_methods(request.app, request.url.path):
        raise ApiError(405, "method_not_allowed", "Method Not Allowed", headers={"Allow": ", ".join(others)})
    raise ApiError(422, "invalid_request", "customer_id: a '/' in an id must be percent-encoded (%2F)")


@router.delete("/customers/{customer_id:id}", status_code=204, dependencies=[Depends(encoded_id)])
def erase_customer(customer_id: PathId, request: Request, session: SessionDep) -> Response:
    """Every row about the customer goes at once, also what requests running meanwhile would write;
    every kept version trained on them is retired, and a new one is trained without them, which
    replaces (and retires) the active one. Erasing twice, or a customer never seen, is not an error."""
    trainer: Trainer = request.app.state.trainer
    derived: Derived = request.app.state.derived
    forget(session, customer_id, trainer=trainer, purchases=derived.purchases)
    request.app.state.serving.follow_erasures()  # /similar without them, from this answer on
    return Response(status_code=204)
