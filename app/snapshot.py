"""The one read an offers request makes: the customer's recent lines, the catalogue's inactive
products and the store's clock, on a connection kept for it."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from sqlalchemy import CompoundSelect, Integer, false, func, literal_column, null, select, union_all
from sqlalchemy.dialects.postgresql.base import PGDialect
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import PoolProxiedConnection
from sqlalchemy.sql.expression import bindparam

from app.history import epoch_days
from app.tables import Customer, Product, Purchase

HistoryRow = tuple[str, float, float, float, str | None]  # product_id, quantity, unit_price, day, order_id


@dataclass
class Snapshot:
    """What one offers request needs from the store, read in one round trip."""

    lines: list[HistoryRow]  # the customer's lines in [since, before)
    known: bool  # the customer is in the store
    country: str | None
    inactive: list[str]  # inactive products
    clock_day: float | None  # the store's latest purchase before ``before``, in days
    customer_since_day: float | None = None  # when the store first saw the customer, in days


_LINE, _CUSTOMER, _INACTIVE, _CLOCK = range(4)


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...] | None  # positional parameter order, or None for named parameters
    to_db: Callable[[datetime], Any]  # how the dialect stores a time


_SNAPSHOT: dict[str, _Compiled] = {}


def _snapshot_sql(dialect: Dialect) -> _Compiled:
    """Built and compiled once per dialect: building and compiling cost more than running it."""
    if dialect.name not in _SNAPSHOT:
        customer = bindparam("customer", type_=Customer.customer_id.type)
        since = bindparam("since", type_=Purchase.occurred_at.type)
        before = bindparam("before", type_=Purchase.occurred_at.type)
        latest = epoch_days(dialect, func.max(Purchase.occurred_at))
        first = literal_column("1", Integer)  # the position answered, as in the batch statement
        stmt: CompoundSelect[Any] = union_all(
            select(
                first,
                literal_column(str(_LINE)),
                Purchase.product_id,
                Purchase.quantity,
                Purchase.unit_price,
                epoch_days(dialect),
                Purchase.order_id,
            ).where(
                Purchase.customer_id == customer, Purchase.occurred_at >= since, Purchase.occurred_at < before
            ),
            select(
                first,
                literal_column(str(_CUSTOMER)),
                Customer.country,
                null(),
                null(),
                epoch_days(dialect, Customer.created_at.expression),
                null(),
            ).where(Customer.customer_id == customer),
            select(
                first, literal_column(str(_INACTIVE)), Product.product_id, null(), null(), null(), null()
            ).where(Product.active == false()),
            select(first, literal_column(str(_CLOCK)), null(), null(), null(), latest, null()).where(
                Purchase.occurred_at < before
            ),
        )
        compiled = stmt.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
        positional = compiled.positiontup
        processor = Purchase.occurred_at.type.bind_processor(dialect)
        _SNAPSHOT[dialect.name] = _Compiled(
            compiled.string,
            tuple(positional) if positional else None,
            processor if processor is not None else (lambda moment: moment),
        )
    return _SNAPSHOT[dialect.name]


# On PostgreSQL: the customers asked for while a read is in flight are read together by the next
# one, a round trip for the lot. Per request it costs the worker 15–40 µs instead of 65 (batches
# of 8 to 2), and the server plans and wakes up once. Batches in flight at once, each on a
# connection of its own:
READ_CONNECTIONS = 2
MAX_BATCH = 64


def _days(column: str) -> str:
    """epoch_days's expression on PostgreSQL, as SQL text."""
    dialect = PGDialect()  # type: ignore[no-untyped-call]
    return str(epoch_days(dialect, literal_column(column)).compile(dialect=dialect))


# The single read's four parts for many (customer, since, before), each row tagged with the
# position of what it answers (1-based; 0 for the inactive products, which answer all). LATERAL
# keeps each part an index lookup per customer whatever the planner guesses of the arrays.
_BATCH_SQL = f"""
WITH asked AS (
    SELECT * FROM unnest(%(customers)s::varchar[], %(since)s::timestamp[], %(before)s::timestamp[])
        WITH ORDINALITY AS a(customer_id, since, before, i)
)
SELECT a.i, {_LINE}, p.product_id, p.quantity, p.unit_price, {_days("p.occurred_at")}, p.order_id
FROM asked a CROSS JOIN LATERAL (
    SELECT product_id, quantity, unit_price, occurred_at, order_id FROM purchases
    WHERE purchases.customer_id = a.customer_id AND occurred_at >= a.since AND occurred_at < a.before
) p
UNION ALL
SELECT a.i, {_CUSTOMER}, c.country, NULL, NULL, {_days("c.created_at")}, NULL
FROM asked a CROSS JOIN LATERAL (
    SELECT country, created_at FROM customers WHERE customers.customer_id = a.customer_id
) c
UNION ALL
SELECT 0, {_INACTIVE}, product_id, NULL, NULL, NULL, NULL FROM products WHERE active = false
UNION ALL
SELECT a.i, {_CLOCK}, NULL, NULL, NULL,
    {_days("(SELECT max(occurred_at) FROM purchases WHERE occurred_at < a.before)")}, NULL
FROM asked a
"""

Asked = tuple[str, datetime, datetime, "asyncio.Future[Snapshot]"]


class SnapshotReader:
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
        self._connection: PoolProxiedConnection | None = None  # SQLite
        self._lock = threading.Lock()
        self._idle: list[psycopg.AsyncConnection[Any]] = []  # PostgreSQL, not reading now
        self._asked: list[Asked] = []  # waiting for the next batch
        self._batches: set[asyncio.Task[None]] = set()  # kept from the garbage collector
        self._reading = 0  # batches started and not finished

    async def read(self, *, customer_id: str, since: datetime, before: datetime) -> Snapshot:
        """The customer's lines in [since, before), whether they exist and their country, the
        inactive products and the store's clock."""
        if self.engine.dialect.name == "postgresql":
            loop = asyncio.get_running_loop()
            answer: asyncio.Future[Snapshot] = loop.create_future()
            self._asked.append((customer_id, since, before, answer))
            if self._reading < READ_CONNECTIONS:
                # Counted now, and uncounted by the batch itself as it finds nothing left (a done
                # callback would run a turn later: a request asking in between would wait for nothing).
                self._reading += 1
                # Started on the loop's next turn: the requests ready in this one join the batch.
                batch = loop.create_task(self._read_batches())
                self._batches.add(batch)
                batch.add_done_callback(self._batches.discard)
            return await answer
        compiled = _snapshot_sql(self.engine.dialect)
        values = {"customer": customer_id, "since": compiled.to_db(since), "before": compiled.to_db(before)}
        params: Any = values if compiled.names is None else tuple(values[n] for n in compiled.names)
        return _snapshots_of(self._fetch(compiled.sql, params), 1)[0]

    async def _read_batches(self) -> None:
        """Answer what is asked, MAX_BATCH at a time, until nothing is left."""
        try:
            await self._answer_asked()
        finally:
            self._reading -= 1

    async def _answer_asked(self) -> None:
        while self._asked:
            batch, self._asked = self._asked[:MAX_BATCH], self._asked[MAX_BATCH:]
            try:
                snapshots = await self._read_batch(batch)
            except BaseException as exc:
                for *_, answer in batch:
                    if answer.done():
                        continue
                    if isinstance(exc, Exception):
                        answer.set_exception(exc)
                    else:
                        answer.cancel()
                if not isinstance(exc, Exception):
                    raise
                continue
            for (*_, answer), snapshot in zip(batch, snapshots, strict=True):
                if not answer.done():  # a request cancelled meanwhile
                    answer.set_result(snapshot)

    async def _read_batch(self, batch: list[Asked]) -> list[Snapshot]:
        if len(batch) == 1:  # the single read is cheaper to send and to answer
            customer_id, since, before, _ = batch[0]
            params = {"customer": customer_id, "since": since, "before": before}
            return _snapshots_of(await self._fetch_async(_snapshot_sql(self.engine.dialect).sql, params), 1)
        params = {
            "customers": [a[0] for a in batch],
            "since": [a[1] for a in batch],
            "before": [a[2] for a in batch],
        }
        return _snapshots_of(await self._fetch_async(_BATCH_SQL, params), len(batch))

    def _fetch(self, sql: str, params: Any) -> Sequence[Any]:
        with self._lock:
            for attempt in (1, 2):
                try:
                    if self._connection is None:
                        self._connection = self.engine.raw_connection()
                        self._connection.detach()  # this reader's own, not the pool's
                    cursor = self._connection.cursor()
                    cursor.execute(sql, params)
                    rows: Sequence[Any] = cursor.fetchall()
                    cursor.close()
                    return rows
                except self.engine.dialect.loaded_dbapi.Error as exc:
                    self._close_sync()
                    if attempt == 2:
                        raise OperationalError(sql, None, exc) from exc
        raise AssertionError("unreachable")

    async def _fetch_async(self, sql: str, params: Any) -> Sequence[Any]:
        for attempt in (1, 2):
            connection = self._idle.pop() if self._idle else None
            try:
                if connection is None or connection.closed:
                    connection = await self._connect()
                async with connection.cursor() as cursor:
                    await cursor.execute(sql, params)
                    rows = await cursor.fetchall()
                self._idle.append(connection)
                return rows
            except psycopg.Error as exc:
                # The others most likely share its fate (a restarted server): all are replaced.
                if connection is not None:
                    self._idle.append(connection)
                await self.aclose()
                if attempt == 2:
                    raise OperationalError(sql, None, exc) from exc
            except BaseException:  # cancelled mid-read: the connection's state is unknown
                if connection is not None:
                    with contextlib.suppress(Exception):
                        await connection.close()
                raise
        raise AssertionError("unreachable")

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        conninfo = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        connection = await psycopg.AsyncConnection.connect(conninfo, autocommit=True, connect_timeout=5)
        # The batch statement is the same for any number of customers: plan it once. Planned anew for
        # each read (PostgreSQL's default for a prepared statement here) it took 0.2 ms more.
        await connection.execute("SET plan_cache_mode = force_generic_plan")
        return connection

    def _close_sync(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.close()
            self._connection = None

    async def aclose(self) -> None:
        self._close_sync()
        idle, self._idle = self._idle, []
        for connection in idle:
            with contextlib.suppress(Exception):
                await connection.close()


def _snapshots_of(rows: Sequence[Any], asked: int) -> list[Snapshot]:
    """The answers of a read of ``asked`` customers, in the order asked (they share one list of
    inactive products)."""
    snaps = [Snapshot([], False, None, [], None) for _ in range(asked)]
    inactive: list[str] = []
    for position, kind, key, quantity, price, day, order_id in rows:
        if kind == _INACTIVE:
            inactive.append(key)
            continue
        snap = snaps[position - 1]
        if kind == _LINE:
            snap.lines.append((key, quantity, price, day, order_id))
        elif kind == _CUSTOMER:
            snap.known, snap.country, snap.customer_since_day = True, key, day
        else:
            snap.clock_day = day
    for snap in snaps:
        snap.inactive = inactive
    return snaps
