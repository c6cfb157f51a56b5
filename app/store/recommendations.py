"""What was offered, to whom, by which version: written in batches by a background thread, off the
request's path, as the anchor for attribution.

The batches go straight through the driver (COPY on PostgreSQL, one INSERT of a JSON array on
SQLite): through the ORM, writing a second's worth of answers took the GIL away from requests
long enough to double the offers route's p99 under load. A batch that fails to write goes back in
the queue for the next try.

A row is dated when its request began, and a batch is written under the erasure lock after a look
at the recent erasures: an answer for a customer whose erasure finished after its request began is
dropped, in whichever process it waited (app/store/).
"""

from __future__ import annotations

import json
import logging
import queue
import secrets
import threading
import time
from datetime import datetime

from sqlalchemy import Engine

from app.clock import utcnow
from app.metrics import UNRECORDED
from app.store.erasure import ERASURE_LOCK, customer_hash
from app.store.tables import Erasure, Recommendation

log = logging.getLogger("nbo.recommendations")

# recommendation_id, customer_id, model_version, strategy, product_ids (JSON), created_at, then where it
# went: channel, campaign_id, experiment, variant
Row = tuple[str, str, str | None, str, str, datetime, str | None, str | None, str | None, str | None]
COLUMNS = (
    "recommendation_id",
    "customer_id",
    "model_version",
    "strategy",
    "product_ids",
    "created_at",
    "channel",
    "campaign_id",
    "experiment",
    "variant",
)


# An id begins with when it was issued (milliseconds, 12 hex digits): feedback on an answer whose row
# is still queued in some process (written within flush_seconds) is told apart from feedback naming
# an id nbo never issued.
RECENT_SECONDS = 60.0


def new_recommendation_id() -> str:
    return f"{int(time.time() * 1000):012x}{secrets.token_hex(10)}"


def issued_within(recommendation_id: str, seconds: float) -> bool:
    stamp = recommendation_id[:12]
    if len(recommendation_id) != 32 or not all(c in "0123456789abcdef" for c in recommendation_id):
        return False
    return 0 <= time.time() * 1000 - int(stamp, 16) <= seconds * 1000


class RecommendationLog:
    def __init__(self, engine: Engine, flush_seconds: float = 1.0, capacity: int = 100_000) -> None:
        self.engine, self.flush_seconds = engine, flush_seconds
        self.queue: queue.Queue[Row] = queue.Queue(maxsize=capacity)
        self._stop = threading.Event()
        self._writing = threading.Lock()  # held while a batch is taken and written
        self._thread = threading.Thread(target=self._run, name="nbo-reco-log", daemon=True)
        table = Recommendation.__tablename__
        self._copy = f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN"
        fields = ", ".join(f"json_extract(value, '$[{i}]')" for i in range(len(COLUMNS)))
        self._insert = f"INSERT INTO {table} ({', '.join(COLUMNS)}) SELECT {fields} FROM json_each(?)"
        self._erased = f"SELECT customer_hash, erased_at FROM {Erasure.__tablename__} WHERE erased_at >= "

    def start(self) -> None:
        self._thread.start()

    def record(
        self,
        recommendation_id: str,
        customer_id: str,
        model_version: str | None,
        strategy: str,
        products: list[str],
        issued_at: datetime | None = None,
        *,
        channel: str | None = None,
        experiment: str | None = None,
        variant: str | None = None,
    ) -> None:
        """Queue an answer; ``issued_at`` is when its request began (default now)."""
        when = issued_at if issued_at is not None else utcnow()
        row = (
            recommendation_id,
            customer_id,
            model_version,
            strategy,
            json.dumps(products),
            when,
            channel,
            None,
            experiment,
            variant,
        )
        try:
            self.queue.put_nowait(row)
        except queue.Full:
            UNRECORDED.inc()

    def flush(self) -> None:
        with self._writing:
            rows: list[Row] = []
            while True:
                try:
                    rows.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            if not rows:
                return
            try:
                self._write(rows)
            except Exception:
                for row in rows:  # back in line for the next flush
                    try:
                        self.queue.put_nowait(row)
                    except queue.Full:
                        UNRECORDED.inc()
                raise

    def _write(self, rows: list[Row]) -> None:
        connection = self.engine.raw_connection()
        try:
            cursor = connection.cursor()
            oldest = min(row[5] for row in rows)
            if self.engine.dialect.name == "postgresql":
                cursor.execute("SELECT pg_advisory_xact_lock_shared(%s)", (ERASURE_LOCK,))
                cursor.execute(self._erased + "%s", (oldest,))
                rows = _not_erased(rows, [(h, t) for h, t in cursor.fetchall()])
                with cursor.copy(self._copy) as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                # Times as SQLAlchemy stores them in SQLite (always six digits of microseconds).
                def stored(t: datetime) -> str:
                    return t.isoformat(" ", "microseconds")

                cursor.execute("BEGIN IMMEDIATE")
                cursor.execute(self._erased + "?", (stored(oldest),))
                erased = [(h, datetime.fromisoformat(t)) for h, t in cursor.fetchall()]
                rows = _not_erased(rows, erased)
                # One statement for the batch, which SQLite runs without holding the GIL. With
                # executemany the GIL changed hands at every row, and requests waited for it.
                batch = json.dumps([(*row[:5], stored(row[5]), *row[6:]) for row in rows])
                cursor.execute(self._insert, (batch,))
            connection.commit()
        finally:
            connection.close()

    def _run(self) -> None:
        while not self._stop.wait(self.flush_seconds):
            try:
                self.flush()
            except Exception:
                log.exception("could not write recommendations; they stay queued")
        try:
            self.flush()
        except Exception:
            log.exception("could not write the last recommendations at shutdown")

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)


def _not_erased(rows: list[Row], erasures: list[tuple[str, datetime]]) -> list[Row]:
    """The rows whose customer was not erased after their request began."""
    if not erasures:
        return rows
    erased_at: dict[str, datetime] = {}
    for key, when in erasures:
        erased_at[key] = max(when, erased_at.get(key, when))
    kept = []
    for row in rows:
        erased = erased_at.get(customer_hash(row[1]))
        if erased is None or erased < row[5]:
            kept.append(row)
    return kept
