"""Catalogue and customer upserts."""

from __future__ import annotations

from fastapi import APIRouter

from app import store
from app.api.events import check_batch_size
from app.deps import SessionDep, SettingsDep, WriteScope
from app.schemas import CustomerBatch, ProductBatch, Upserted, utcnow

router = APIRouter(prefix="/v1", tags=["catalog"], dependencies=[WriteScope])


@router.put("/products")
def put_products(batch: ProductBatch, session: SessionDep, settings: SettingsDep) -> Upserted:
    check_batch_size(len(batch.products), settings, "products")
    upserted = store.upsert_products(session, products=batch.products)
    session.commit()
    return Upserted(upserted=upserted)


@router.put("/customers")
def put_customers(batch: CustomerBatch, session: SessionDep, settings: SettingsDep) -> Upserted:
    started = utcnow()
    check_batch_size(len(batch.customers), settings, "customers")
    # A customer whose erasure finished while this ran is not written back (app/erasure.py).
    store.hold_writes(session)
    gone = store.erased_since(session, (c.customer_id for c in batch.customers), started)
    customers = [c for c in batch.customers if c.customer_id not in gone]
    upserted = store.upsert_customers(session, customers=customers)
    session.commit()
    return Upserted(upserted=upserted)
