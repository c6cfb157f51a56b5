"""The catalogue and the customers' records: upserts field by field."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from app.clock import utcnow
from app.store.dialect import insert
from app.store.tables import Customer, Product

# A row holds the product_id (or customer_id) and the fields given; a field left out keeps its
# stored value. Customers' consent is one column per channel: consent_email, consent_sms, ...
Row = dict[str, Any]


def _upsert(session: Session, table: Any, key: str, rows: list[Row]) -> None:
    """Insert or update; a field absent from a row leaves the stored value as it is."""
    by_fields: dict[tuple[str, ...], list[Row]] = {}
    for row in sorted(rows, key=lambda r: r[key]):
        by_fields.setdefault(tuple(sorted(row)), []).append(row)
    for fields, group in by_fields.items():
        stmt = insert(session, table)
        # created_at says when the row was first inserted: an update leaves it.
        updates = {f: getattr(stmt.excluded, f) for f in fields if f not in (key, "created_at")}
        stmt = (
            stmt.on_conflict_do_update(index_elements=[key], set_=updates)
            if updates
            else stmt.on_conflict_do_nothing(index_elements=[key])
        )
        session.execute(stmt, group)


def _merged(rows: Sequence[Row], key: str) -> dict[str, Row]:
    merged: dict[str, Row] = {}
    for row in rows:  # the last row for a key wins, field by field
        merged.setdefault(row[key], {}).update(row)
    return merged


def upsert_products(session: Session, rows: Sequence[Row]) -> int:
    merged = _merged(rows, "product_id")
    _upsert(session, Product, "product_id", list(merged.values()))
    return len(merged)


def upsert_customers(session: Session, rows: Sequence[Row]) -> int:
    merged = _merged(rows, "customer_id")
    now = utcnow()
    for row in merged.values():
        row["created_at"] = now
    _upsert(session, Customer, "customer_id", list(merged.values()))
    return len(merged)
