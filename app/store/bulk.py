"""Bulk loading of purchase rows: COPY into a staging table on PostgreSQL, executemany on SQLite.

Both paths are idempotent (ON CONFLICT DO NOTHING on event_id) and commit chunk by chunk, so an
interrupted import can simply be run again.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from itertools import islice

from sqlalchemy import Connection, Engine

from app.clock import utcnow
from app.store.tables import Customer

# (event_id, customer_id, product_id, quantity, unit_price, occurred_at, order_id, country, product name)
Row = tuple[str, str, str, float, float, datetime, str | None, str | None, str | None]

_PG_STAGE = """
CREATE TEMP TABLE IF NOT EXISTS purchases_stage (
    event_id text, customer_id text, product_id text, quantity double precision, unit_price double precision,
    occurred_at timestamp, order_id text, country text, name text
) ON COMMIT DELETE ROWS
"""

_PG_COPY = (
    "COPY purchases_stage (event_id, customer_id, product_id, quantity, unit_price, occurred_at,"
    " order_id, country, name) FROM STDIN"
)

_PG_MERGE = (
    """INSERT INTO customers (customer_id, country)
       SELECT DISTINCT ON (customer_id) customer_id, country FROM purchases_stage
       ORDER BY customer_id, occurred_at DESC ON CONFLICT DO NOTHING""",
    """INSERT INTO products (product_id, name)
       SELECT DISTINCT ON (product_id) product_id, name FROM purchases_stage
       ORDER BY product_id, occurred_at DESC ON CONFLICT DO NOTHING""",
)
_PG_PURCHASES = """
INSERT INTO purchases (event_id, customer_id, product_id, quantity, unit_price, occurred_at, order_id)
SELECT event_id, customer_id, product_id, quantity, unit_price, occurred_at, order_id FROM purchases_stage
ON CONFLICT (event_id) DO NOTHING
"""


IMPORT_CACHE_KIB = 256 * 1024


def _chunks(rows: Iterable[Row], size: int) -> Iterator[list[Row]]:
    it = iter(rows)
    while chunk := list(islice(it, size)):
        yield chunk


def _load_pg(conn: Connection, chunk: list[Row]) -> int:
    conn.exec_driver_sql(_PG_STAGE)
    raw = conn.connection.driver_connection
    assert raw is not None
    with raw.cursor() as cur, cur.copy(_PG_COPY) as copy:
        for row in chunk:
            copy.write_row(row)
    for sql in _PG_MERGE:
        conn.exec_driver_sql(sql)
    return conn.exec_driver_sql(_PG_PURCHASES).rowcount


def _load_sqlite(conn: Connection, chunk: list[Row]) -> int:
    # Event ids are hashes, so each row lands on a random page of their index: once that index
    # outgrows SQLite's default page cache (2 MB) nearly every row misses it. The loader's connections
    # (an engine of the import's own) keep more.
    conn.exec_driver_sql(f"PRAGMA cache_size=-{IMPORT_CACHE_KIB}")
    customers = {r[1]: r[7] for r in chunk}
    products = {r[2]: r[8] for r in chunk}
    # created_at to the microsecond, as the ORM writes it (SQLite's default keeps whole seconds).
    to_db = Customer.created_at.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    now = to_db(utcnow()) if to_db is not None else utcnow()
    conn.exec_driver_sql(
        "INSERT INTO customers (customer_id, country, created_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        [(c, country, now) for c, country in sorted(customers.items())],
    )
    conn.exec_driver_sql(
        "INSERT INTO products (product_id, name) VALUES (?, ?) ON CONFLICT DO NOTHING",
        sorted(products.items()),
    )
    raw = conn.connection.driver_connection
    before: int = raw.total_changes  # type: ignore[union-attr]
    conn.exec_driver_sql(
        "INSERT INTO purchases (event_id, customer_id, product_id, quantity, unit_price, occurred_at,"
        " order_id) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING",
        [
            (r[0], r[1], r[2], r[3], r[4], r[5].isoformat(sep=" ", timespec="microseconds"), r[6])
            for r in chunk
        ],
    )
    after: int = raw.total_changes  # type: ignore[union-attr]
    return after - before


def load_purchases(engine: Engine, rows: Iterable[Row], *, chunk_size: int = 50_000) -> tuple[int, int]:
    """Store rows whose event_id is new. Returns (stored, already stored).

    The database writes one chunk while the caller's iterator parses the next (the driver releases
    the GIL while it waits), so parsing and loading overlap.
    """
    load = _load_pg if engine.dialect.name == "postgresql" else _load_sqlite

    def write(chunk: list[Row]) -> int:
        with engine.begin() as conn:
            return load(conn, chunk)

    stored = offered = 0
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="nbo-load") as writer:
        pending: Future[int] | None = None
        for chunk in _chunks(rows, chunk_size):
            if pending is not None:
                stored += pending.result()
            pending = writer.submit(write, chunk)
            offered += len(chunk)
        if pending is not None:
            stored += pending.result()
    if stored and engine.dialect.name == "postgresql":
        # A bulk load outpaces autovacuum: until it analyses the tables, the planner takes them for
        # small and scans them whole (the offers read of inactive products: 0.33 → 0.04 ms).
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE customers, products, purchases")
    return stored, offered - stored
