"""Exactly-once ingest under crashes: real purchase events sent by concurrent clients, each batch
sent 1–3 times (a retry after a 200 too) with timeouts that give up mid-request, while the server is
SIGKILLed and started again; then what the store holds is compared with what was acknowledged:
nothing lost, nothing stored twice, nothing changed."""

from __future__ import annotations

import queue
import random
import threading
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, select

from app.ingest.importer import ONLINE_RETAIL, ImportStats, as_event, open_text, read_rows
from app.store.tables import Purchase
from bench.reliability.served import Server

# Timeouts a client gives a request: the short ones give up while the server still works on it.
TIMEOUTS = (0.05, 0.2, 1.0, 30.0)


def real_events(path: Path, limit: int) -> list[dict[str, Any]]:
    """The first ``limit`` purchase events of a file in the Online Retail format, as a client sends
    them (the importer's rules: guests and non-products left out, cancellations as returns)."""
    events: list[dict[str, Any]] = []
    with open_text(path) as handle:
        for row in read_rows(handle, ONLINE_RETAIL, ImportStats()):
            events.append(as_event(row))
            if len(events) == limit:
                break
    return events


def run(
    database_url: str,
    folder: Path,
    events: list[dict[str, Any]],
    *,
    clients: int,
    batch: int,
    kills: int,
    seed: int,
) -> dict[str, Any]:
    batches = [events[i : i + batch] for i in range(0, len(events), batch)]
    todo: queue.Queue[int] = queue.Queue()
    for i in range(len(batches)):
        todo.put(i)
    acknowledged: set[str] = set()
    counts: Counter[str] = Counter()
    done_batches = [0]
    lock = threading.Lock()
    failures: list[str] = []
    server = Server(database_url, folder)
    restarts: list[float] = []
    server.start()
    started = time.monotonic()

    def client(k: int) -> None:
        rng = random.Random(seed * 1000 + k)
        with httpx.Client(base_url=server.base) as http:
            while True:
                try:
                    i = todo.get_nowait()
                except queue.Empty:
                    return
                sends, ok = rng.randint(1, 3), 0
                while ok < sends:
                    try:
                        r = http.post(
                            "/v1/events/purchases", json={"events": batches[i]}, timeout=rng.choice(TIMEOUTS)
                        )
                    except httpx.HTTPError as exc:
                        with lock:
                            counts["timeout" if isinstance(exc, httpx.TimeoutException) else "refused"] += 1
                        time.sleep(0.02)
                        continue
                    with lock:
                        counts[f"http_{r.status_code}"] += 1
                    if r.status_code == 503:  # retryable: the store was not ready (a restart)
                        continue
                    if r.status_code != 200 or r.json()["rejected"]:
                        with lock:
                            failures.append(f"batch {i}: {r.status_code} {r.text[:200]}")
                        return
                    ok += 1
                    with lock:
                        acknowledged.update(e["event_id"] for e in batches[i])
                with lock:
                    done_batches[0] += 1

    def killer() -> None:
        # The kills are spread over the run: one each time another share of the batches is done.
        for n in range(1, kills + 1):
            while done_batches[0] < len(batches) * n / (kills + 1):
                if all(not t.is_alive() for t in threads):
                    return
                time.sleep(0.01)
            time.sleep(random.Random(seed + n).uniform(0.0, 0.3))  # mid-batch, most likely
            server.kill()
            restarts.append(server.start())

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    kill_thread = threading.Thread(target=killer)
    kill_thread.start()
    for t in threads:
        t.join()
    kill_thread.join()
    seconds = time.monotonic() - started
    server.stop()
    return {
        "events": len(events),
        "batches": len(batches),
        "clients": clients,
        "kills": server.kills,
        "restart_seconds_max": round(max(restarts, default=0.0), 2),
        "seconds": round(seconds, 1),
        "requests": dict(sorted(counts.items())),
        "failures": failures,
        **compare(database_url, events, acknowledged),
    }


def compare(database_url: str, events: list[dict[str, Any]], acknowledged: set[str]) -> dict[str, int]:
    """The store against what was sent and acknowledged."""
    sent = {e["event_id"]: e for e in events}
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(
                    Purchase.event_id,
                    Purchase.customer_id,
                    Purchase.product_id,
                    Purchase.quantity,
                    Purchase.unit_price,
                    Purchase.occurred_at,
                    Purchase.order_id,
                )
            ).all()
    finally:
        engine.dispose()
    stored = Counter(r[0] for r in rows)
    changed = sum(1 for r in rows if r[0] not in sent or not same(r, sent[r[0]]))
    return {
        "acknowledged": len(acknowledged),
        "stored": len(stored),
        "lost": len(acknowledged - set(stored)),
        "duplicated": sum(n - 1 for n in stored.values()),
        "changed": changed,
        "unacknowledged_stored": len(set(stored) - acknowledged),
    }


def same(row: Any, event: dict[str, Any]) -> bool:
    """Whether a stored row holds what the event said."""
    _, customer, product, quantity, price, when, order = row
    return (customer, product, order, quantity, price, when) == (
        event["customer_id"],
        event["product_id"],
        event.get("order_id"),
        event["quantity"],
        event["unit_price"],
        datetime.fromisoformat(event["occurred_at"].removesuffix("Z")),
    )
