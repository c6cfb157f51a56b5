"""Connections a reader keeps for itself, outside the pool: on the hot path a Session's bookkeeping,
or a pooled connection's ping on checkout and rollback on return, would cost several times the
query itself. One in-process connection on SQLite; on PostgreSQL async connections in autocommit
mode, idle ones reused. A read that fails is tried once more on a new connection (the others, most
likely sharing its fate, a restarted server, are replaced too)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import psycopg
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import PoolProxiedConnection

Prepare = Callable[[psycopg.AsyncConnection[Any]], Awaitable[None]]


class KeptConnections:
    def __init__(self, engine: Engine, prepare: Prepare | None = None) -> None:
        self.engine = engine
        self.prepare = prepare  # run on each new PostgreSQL connection
        self._connection: PoolProxiedConnection | None = None  # SQLite
        self._lock = threading.Lock()
        self._idle: list[psycopg.AsyncConnection[Any]] = []  # PostgreSQL, not reading now

    def fetch(self, sql: str, params: Any) -> Sequence[Any]:
        """The rows of ``sql`` on the kept in-process connection (SQLite)."""
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

    async def fetch_async(self, sql: str, params: Any) -> Sequence[Any]:
        """The rows of ``sql`` on an idle or new connection (PostgreSQL), awaited."""
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
        if self.prepare is not None:
            await self.prepare(connection)
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
