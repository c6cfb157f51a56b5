"""What the contact policy needs of one customer on an offers request, read on a connection kept
for it (as the offers read is, app/store/offers_read.py): their consent, their contacts counted per
channel in each cap's window, their last dismissal, and (with a fatigue rule) their impressions and
clicks. The counts are made by the database: a customer contacted hundreds of times sends back a
row per channel, not a row per contact. On PostgreSQL the read is one statement (one round trip),
awaited; SQLite answers in-process."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine

from app.store.contacts import ContactState
from app.store.kept import KeptConnections
from app.store.tables import Purchase

Query = tuple[str, tuple[Any, ...]]


class ContactReader:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.postgresql = engine.dialect.name == "postgresql"
        self._p = "%s" if self.postgresql else "?"
        processor = Purchase.occurred_at.type.dialect_impl(engine.dialect).bind_processor(engine.dialect)
        self._to_db = processor if processor is not None else (lambda moment: moment)
        self.connections = KeptConnections(engine)

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
        query = self._query(customer_id, now, windows, dismiss_days, fatigue_days)
        rows = (
            await self.connections.fetch_async(*query) if self.postgresql else self.connections.fetch(*query)
        )
        state = ContactState(window_counts={w: {} for w in windows})
        counted = state.window_counts
        assert counted is not None
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

    async def aclose(self) -> None:
        await self.connections.aclose()


def _time(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))
