"""Serving: offers per customer and similar products."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response

from app.api.inputs import Channel
from app.api.params import AsOf, PathId
from app.api.responses import OffersOut, SimilarOut
from app.clock import to_naive_utc, utcnow
from app.customers import offering
from app.serving.loaded import Loaded, Serving
from app.serving.similar import similar_to
from app.store.purchases import known_product
from app.web.deps import ReadScope, SessionDep
from app.web.errors import ApiError

router = APIRouter(prefix="/v1", tags=["serving"], dependencies=[ReadScope])


def loaded_model(request: Request) -> Loaded:
    serving: Serving = request.app.state.serving
    loaded = serving.current  # taken once: a swap during this request does not affect it
    if loaded is None:
        raise ApiError(503, "no_model", "model: nothing loaded yet")
    return loaded


# ``async`` on purpose: the work is ~0.4 ms of CPU with one short read (readers never wait on writers
# in PostgreSQL or in SQLite's WAL mode; connecting is bounded by a timeout). Done in the threadpool,
# the thread hop and the GIL contention between request threads cost more than the work itself
# (measured with bench/serve.py: 0.43 of /healthz's throughput through a one-thread pool, 0.5 here).
@router.get("/customers/{customer_id:id}/offers", responses={200: {"model": OffersOut}})
async def get_offers(
    request: Request,
    customer_id: PathId,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    exclude_purchased: bool = False,
    as_of: AsOf = None,
    strategy: Literal["auto", "refill"] = "auto",
    channel: Annotated[
        Channel | None,
        Query(description="the channel the offers are meant for: the contact policy applies"),
    ] = None,
) -> Response:
    started = utcnow()  # the answer is dated when it began (an erasure meanwhile drops it)
    if strategy == "refill" and exclude_purchased:
        raise ApiError(
            422,
            "invalid_request",
            "strategy: refill offers products the customer bought; it cannot go with exclude_purchased=true",
        )
    loaded = loaded_model(request)
    state = request.app.state
    answer = await offering.answer(
        offering.Offering(
            state.serving, state.derived.offers_read, state.recommendation_log, state.derived.contact_read
        ),
        loaded,
        customer_id=customer_id,
        limit=limit,
        exclude_purchased=exclude_purchased,
        as_of=to_naive_utc(as_of) if as_of is not None else utcnow(),
        strategy=strategy,
        channel=channel,
        started=started,
    )
    # Encoded here: the answer is plain JSON types, and FastAPI's generic encoding of it would cost
    # as much as ranking it.
    return Response(json.dumps(answer, separators=(",", ":")), media_type="application/json")


@router.get("/products/{product_id:id}/similar", response_model=None, responses={200: {"model": SimilarOut}})
def get_similar(
    request: Request,
    session: SessionDep,
    product_id: PathId,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> dict[str, Any]:
    loaded = loaded_model(request)
    if loaded.model.product_index.get(product_id) is None and not known_product(
        session, product_id=product_id
    ):
        raise ApiError(404, "not_found", f"product_id: no product {product_id!r}")
    return {
        "product_id": product_id,
        "model_version": loaded.version,
        "items": similar_to(
            session, loaded, product_id=product_id, limit=limit, catalog=request.app.state.serving.catalog
        ),
    }
