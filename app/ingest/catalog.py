"""Catalogue and customer upserts, validated rows in: field by field, the last row for a key wins;
a customer whose erasure finished after the request began is not written back."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from app.db import Session
from app.store import catalog, erasure


def put_products(session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Rows hold the product_id and the fields given; returns the products upserted."""
    upserted = catalog.upsert_products(session, rows)
    session.commit()
    return upserted


def customer_columns(row: dict[str, Any]) -> dict[str, Any]:
    """A customer as the API gives it (consent: {channel: bool}) as the store keeps it (a column per
    channel); a channel left out of the consent keeps its stored value."""
    out = {k: v for k, v in row.items() if k != "consent"}
    for channel, value in (row.get("consent") or {}).items():
        out[f"consent_{channel}"] = value
    return out


def put_customers(session: Session, rows: Sequence[dict[str, Any]], *, started: datetime) -> int:
    """Rows hold the customer_id and the fields given; returns the customers upserted."""
    gone = erasure.hold_writes(session, (r["customer_id"] for r in rows), started)
    upserted = catalog.upsert_customers(
        session, [customer_columns(r) for r in rows if r["customer_id"] not in gone]
    )
    session.commit()
    return upserted
