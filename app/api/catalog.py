"""Catalogue and customer upserts."""

from __future__ import annotations

from fastapi import APIRouter, Request

from app.api.events import check_batch_size
from app.api.inputs import CustomerBatch, ProductBatch
from app.api.responses import Upserted
from app.clock import utcnow
from app.ingest.catalog import put_customers as upsert_customers
from app.ingest.catalog import put_products as upsert_products
from app.web.deps import SessionDep, SettingsDep, WriteScope

router = APIRouter(prefix="/v1", tags=["catalog"], dependencies=[WriteScope])


@router.put("/products")
def put_products(
    batch: ProductBatch, request: Request, session: SessionDep, settings: SettingsDep
) -> Upserted:
    check_batch_size(len(batch.products), settings, "products")
    rows = [p.model_dump(exclude_unset=True) for p in batch.products]
    upserted = upsert_products(session, rows)
    request.app.state.serving.refresh_catalog(force=True)  # this process's answers at once
    return Upserted(upserted=upserted)


@router.put("/customers")
def put_customers(batch: CustomerBatch, session: SessionDep, settings: SettingsDep) -> Upserted:
    started = utcnow()
    check_batch_size(len(batch.customers), settings, "customers")
    rows = [c.model_dump(exclude_unset=True) for c in batch.customers]
    return Upserted(upserted=upsert_customers(session, rows, started=started))
