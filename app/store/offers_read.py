"""The reader of the one read an offers request makes (app/store/offers_sql.py), on connections kept
for it, with PostgreSQL's reads of many customers at once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from sqlalchemy.engine import Engine

from app.store.batching import Batcher
from app.store.kept import KeptConnections
from app.store.offers_sql import BATCH_SQL, Compiled, Snapshot, single_read, snapshots_of

# On PostgreSQL the customers asked for while a read is in flight are read together by the next one
# (app/store/batching.py). Batches in flight at once, each on a connection of its own:
READ_CONNECTIONS = 2
MAX_BATCH = 64


Asked = tuple[str, datetime, datetime]  # customer_id, since, before


class OffersReader:
    """Reads what an offers request needs in one statement (one consistent read), on a connection of
    its own in autocommit mode.

    This runs on every offers request: a Session's transaction bookkeeping, or a pooled connection's
    ping on checkout and rollback on return, would cost several times the query itself (measured on
    PostgreSQL: 930 µs a read through the pool, 290 µs here). On PostgreSQL the read is awaited, so
    the event loop ranks other requests while the server answers, and the requests that come
    meanwhile are read together (see READ_CONNECTIONS); SQLite answers in-process. A connection that
    fails is dropped, with the idle ones, and the read tried once more on a new one.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.single: Compiled = single_read(engine.dialect)
        self.connections = KeptConnections(engine, prepare=plan_once)
        self.batcher: Batcher[Asked, Snapshot] = Batcher(
            self._read_batch, in_flight=READ_CONNECTIONS, max_batch=MAX_BATCH
        )

    async def read(self, *, customer_id: str, since: datetime, before: datetime) -> Snapshot:
        """The customer's lines in [since, before), whether they exist and their country, the
        inactive products and the store's clock."""
        if self.engine.dialect.name == "postgresql":
            return await self.batcher.get((customer_id, since, before))
        compiled = self.single
        values = {"customer": customer_id, "since": compiled.to_db(since), "before": compiled.to_db(before)}
        params: Any = values if compiled.names is None else tuple(values[n] for n in compiled.names)
        return snapshots_of(self.connections.fetch(compiled.sql, params), 1)[0]

    async def _read_batch(self, batch: list[Asked]) -> list[Snapshot]:
        if len(batch) == 1:  # the single read is cheaper to send and to answer
            customer_id, since, before = batch[0]
            params = {"customer": customer_id, "since": since, "before": before}
            return snapshots_of(await self.connections.fetch_async(self.single.sql, params), 1)
        params = {
            "customers": [a[0] for a in batch],
            "since": [a[1] for a in batch],
            "before": [a[2] for a in batch],
        }
        return snapshots_of(await self.connections.fetch_async(BATCH_SQL, params), len(batch))

    async def aclose(self) -> None:
        await self.connections.aclose()


async def plan_once(connection: psycopg.AsyncConnection[Any]) -> None:
    # The batch statement is the same for any number of customers: plan it once. Planned anew for
    # each read (PostgreSQL's default for a prepared statement here) it took 0.2 ms more.
    await connection.execute("SET plan_cache_mode = force_generic_plan")
