"""What the contact policy needs of one customer on an offers request, read on a connection kept
for it (as the offers read is, app/store/offers_read.py): their consent, their contacts counted per
channel in each cap's window, their last dismissal, and (with a fatigue rule) their impressions and
clicks. The counts are made by the database: a customer contacted hundreds of times sends back a
row per channel, not a row per contact. On PostgreSQL the read is one statement (one round trip),
awaited; SQLite answers in-process."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from app.store.batching import Batcher
from app.store.contacts import ContactState
from app.store.kept import KeptConnections
from app.store.offers_read import MAX_BATCH, READ_CONNECTIONS, plan_once
from app.store.tables import Purchase

Query = tuple[str, tuple[Any, ...]]
Shape = tuple[tuple[int, ...], int, int]  # the policy's windows, dismissal and fatigue days
Asked = tuple[str, datetime, Shape]


class ContactReader:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.postgresql = engine.dialect.name == "postgresql"
        self._p = "%s" if self.postgresql else "?"
        processor = Purchase.occurred_at.type.dialect_impl(engine.dialect).bind_processor(engine.dialect)
        self._to_db = processor if processor is not None else (lambda moment: moment)
        self.connections = KeptConnections(engine, prepare=plan_once)
        self.batcher: Batcher[Asked, ContactState] = Batcher(
            self._read_batch, in_flight=READ_CONNECTIONS, max_batch=MAX_BATCH
        )

    def _query(
        self, customer_id: str, now: datetime, windows: Sequence[int], dismiss_days: int, fatigue_days: int
    ) -> Query:
        """One statement, its rows tagged by what they answer: 0 the consent (1/0 per channel in the
        counts' columns), 1 a channel's contacts counted in each window, 2 the last dismissal, 3 an
        impression or a click. Columns: tag, two texts, a time, then the counts."""
        p, t = self._p, self._to_db
        width = max(3, len(windows))
        text, when = "CAST(NULL AS VARCHAR(256))", "CAST(NULL AS TIMESTAMP)"
        zeros = ", ".join(["0"] * width)

        def padded(columns: list[str]) -> str:
            return ", ".join(columns + ["0"] * (width - len(columns)))

        consent = padded([f"CASE WHEN consent_{c} THEN 1 ELSE 0 END" for c in ("email", "sms", "phone")])
        parts = [f"SELECT 0, {text}, {text}, {when}, {consent} FROM customers WHERE customer_id = {p}"]
        params: list[Any] = [customer_id]
        if windows:
            counts = padded([f"SUM(CASE WHEN contacted_at > {p} THEN 1 ELSE 0 END)" for _ in windows])
            parts.append(
                f"SELECT 1, channel, {text}, {when}, {counts} FROM contacts WHERE customer_id = {p}"
                f" AND contacted_at > {p} AND contacted_at <= {p} GROUP BY channel"
            )
            params += [*(t(now - timedelta(days=w)) for w in windows), customer_id]
            params += [t(now - timedelta(days=max(windows))), t(now)]
        if dismiss_days > 0:
            parts.append(
                f"SELECT 2, {text}, {text}, MAX(occurred_at), {zeros} FROM feedback WHERE customer_id = {p}"
                f" AND type = 'dismiss' AND occurred_at >= {p} AND occurred_at <= {p}"
            )
            params += [customer_id, t(now - timedelta(days=dismiss_days)), t(now)]
        if fatigue_days > 0:
            parts.append(
                f"SELECT 3, product_id, type, occurred_at, {zeros} FROM feedback WHERE customer_id = {p}"
                f" AND type IN ('impression', 'click') AND occurred_at >= {p} AND occurred_at <= {p}"
            )
            params += [customer_id, t(now - timedelta(days=fatigue_days)), t(now)]
        return " UNION ALL ".join(parts), tuple(params)

    async def read(
        self,
        customer_id: str,
        now: datetime,
        *,
        windows: Sequence[int],
        dismiss_days: int,
        fatigue_days: int,
    ) -> ContactState:
        """The state as of ``now``: contacts counted in (now - w days, now] for each w of ``windows``."""
        shape = (tuple(windows), dismiss_days, fatigue_days)
        if self.postgresql:
            return await self.batcher.get((customer_id, now, shape))
        rows = self.connections.fetch(*self._query(customer_id, now, windows, dismiss_days, fatigue_days))
        return _state(rows, windows)

    async def _read_batch(self, asked: list[Asked]) -> list[ContactState]:
        """The states of what was asked meanwhile: one statement for each policy shape among them
        (one, but for a policy changed in between)."""
        out: list[ContactState | None] = [None] * len(asked)
        shapes: dict[Shape, list[int]] = {}
        for i, (_, _, shape) in enumerate(asked):
            shapes.setdefault(shape, []).append(i)
        for shape, positions in shapes.items():
            sql = _batch_sql(shape)
            params = {"customers": [asked[i][0] for i in positions], "nows": [asked[i][1] for i in positions]}
            rows = await self.connections.fetch_async(sql, params)
            by_position: dict[int, list[Any]] = {}
            for position, *row in rows:
                by_position.setdefault(position, []).append(row)
            for n, i in enumerate(positions, 1):
                out[i] = _state(by_position.get(n, []), shape[0])
        return [state for state in out if state is not None]

    async def aclose(self) -> None:
        await self.connections.aclose()


def _state(rows: Sequence[Any], windows: Sequence[int]) -> ContactState:
    state = ContactState(window_counts={w: {} for w in windows})
    counted = state.window_counts
    reactions = []
    for kind, first, second, moment, *numbers in rows:
        if kind == 0:
            state.known = True
            state.consent = {"email": numbers[0] == 1, "sms": numbers[1] == 1, "phone": numbers[2] == 1}
        elif kind == 1:
            for w, n in zip(windows, numbers, strict=False):
                counted[w][first] = int(n or 0)
        elif kind == 2:
            state.last_dismiss = _time(moment)
        else:
            at = _time(moment)
            assert at is not None
            reactions.append((first, second, at))
    state.reactions = sorted(reactions, key=lambda r: r[2])  # oldest first (a stable sort)
    return state


@functools.lru_cache(maxsize=64)
def _batch_sql(shape: Shape) -> str:
    """The read of many customers on PostgreSQL, each row tagged with the position of the customer it
    answers (1-based), as of each one's own moment. The windows are whole days from the policy."""
    windows, dismiss_days, fatigue_days = shape
    width = max(3, len(windows))
    text, when = "NULL::varchar", "NULL::timestamp"
    zeros = ", ".join(["0"] * width)

    def padded(columns: list[str]) -> str:
        return ", ".join(columns + ["0"] * (width - len(columns)))

    def ago(days: int) -> str:
        return f"a.now - make_interval(days => {int(days)})"

    consent = padded([f"CASE WHEN c.consent_{ch} THEN 1 ELSE 0 END" for ch in ("email", "sms", "phone")])
    parts = [
        f"SELECT a.i, 0, {text}, {text}, {when}, {consent} FROM asked a CROSS JOIN LATERAL"
        " (SELECT * FROM customers WHERE customers.customer_id = a.customer_id) c"
    ]
    if windows:
        counts = padded([f"SUM(CASE WHEN k.contacted_at > {ago(w)} THEN 1 ELSE 0 END)" for w in windows])
        parts.append(
            f"SELECT a.i, 1, k.channel, {text}, {when}, {counts} FROM asked a CROSS JOIN LATERAL"
            " (SELECT channel, contacted_at FROM contacts WHERE contacts.customer_id = a.customer_id"
            f" AND contacted_at > {ago(max(windows))} AND contacted_at <= a.now) k GROUP BY a.i, k.channel"
        )
    if dismiss_days > 0:
        parts.append(
            f"SELECT a.i, 2, {text}, {text}, MAX(f.occurred_at), {zeros} FROM asked a CROSS JOIN LATERAL"
            " (SELECT occurred_at FROM feedback WHERE feedback.customer_id = a.customer_id"
            f" AND type = 'dismiss' AND occurred_at >= {ago(dismiss_days)} AND occurred_at <= a.now) f"
            " GROUP BY a.i"
        )
    if fatigue_days > 0:
        parts.append(
            f"SELECT a.i, 3, f.product_id, f.type, f.occurred_at, {zeros} FROM asked a CROSS JOIN LATERAL"
            " (SELECT product_id, type, occurred_at FROM feedback WHERE feedback.customer_id = a.customer_id"
            " AND type IN ('impression', 'click')"
            f" AND occurred_at >= {ago(fatigue_days)} AND occurred_at <= a.now) f"
        )
    asked = (
        "WITH asked AS (SELECT * FROM unnest(%(customers)s::varchar[], %(nows)s::timestamp[])"
        " WITH ORDINALITY AS a(customer_id, now, i)) "
    )
    return asked + " UNION ALL ".join(parts)


def _time(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))
