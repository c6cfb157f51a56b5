"""What differs between the two databases nbo runs on, for the store's statements."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Float, Table, cast, func, literal_column
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from app.store.tables import Purchase


def is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def insert(session: Session, table: Any) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT."""
    target: Table = table.__table__
    if is_postgresql(session):
        return postgresql.insert(target)
    return sqlite.insert(target)


def epoch_days(on: Session | Dialect, moment: ColumnElement[Any] | None = None) -> ColumnElement[float]:
    """A time (default: occurred_at) as days since 1970-01-01, computed by the database (far cheaper
    than datetimes)."""
    when: ColumnElement[Any] = Purchase.occurred_at if moment is None else moment  # type: ignore[assignment]
    dialect = on.get_bind().dialect if isinstance(on, Session) else on
    if dialect.name == "sqlite":
        return cast(func.julianday(when) - literal_column("2440587.5"), Float)
    return cast(func.extract("epoch", when) / literal_column("86400.0"), Float)
