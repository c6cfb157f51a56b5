"""Engine and session factory, configured for SQLite (embedded) or PostgreSQL; and the names the rest
of nbo uses for them (a session, a factory, the store's errors) without importing SQLAlchemy."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["Engine", "Session", "SessionFactory", "StoreError", "StoreUnavailable"]

SessionFactory = sessionmaker[Session]
StoreError = SQLAlchemyError  # anything the store raised
StoreUnavailable = OperationalError  # the database did not answer (a retryable 503)


def make_engine(url: str, **kwargs: Any) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # A server that does not answer must not hold a request (or the offers route's event loop)
        # for long: connecting gives up after a few seconds.
        connect_args = {"connect_timeout": 5, **kwargs.pop("connect_args", {})}
        return create_engine(
            url, pool_pre_ping=True, pool_size=10, max_overflow=20, connect_args=connect_args, **kwargs
        )

    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, emit BEGIN: savepoints then work and a write transaction
        # waits on the busy timeout instead of failing.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN")

    return engine


def make_session_factory(engine: Engine) -> SessionFactory:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)


@contextmanager
def throwaway_database(server_url: str, prefix: str) -> Iterator[str]:
    """A new, empty PostgreSQL database on ``server_url``'s server, dropped on exit (tests, benchmarks).

    Creating it fails, rather than skipping anything, when the server is unreachable.
    """
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()
