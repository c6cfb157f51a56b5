"""The catalogue, to read: products with their name, category, price and whether they are offered."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AfterValidator

from app.api.inputs import no_nul
from app.api.params import PathId
from app.api.responses import ProductList, ProductOut
from app.store.purchases import product, products_page
from app.store.tables import ID_LENGTH
from app.web.deps import ReadScope, SessionDep
from app.web.errors import ApiError

router = APIRouter(prefix="/v1/products", tags=["catalog"], dependencies=[ReadScope])


@router.get("", response_model=None, responses={200: {"model": ProductList}})
def list_products(
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    after: Annotated[str | None, Query(min_length=1, max_length=ID_LENGTH), AfterValidator(no_nul)] = None,
) -> dict[str, Any]:
    """Products in id order; ``next_after`` asks for the next page."""
    page = products_page(session, limit=limit + 1, after=after)
    more = len(page) > limit
    page = page[:limit]
    return {"products": page, "next_after": page[-1]["product_id"] if more else None}


@router.get("/{product_id:id}", response_model=None, responses={200: {"model": ProductOut}})
def get_product(product_id: PathId, session: SessionDep) -> dict[str, Any]:
    found = product(session, product_id)
    if found is None:
        raise ApiError(404, "not_found", f"product_id: no product {product_id!r}")
    return found
