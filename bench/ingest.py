"""Ingest throughput: the CLI importer and HTTP batches of 1,000, on SQLite and PostgreSQL.

Each figure has a baseline from the same run: for the importer, the driver's bare bulk insert of the
same pre-parsed rows into the same empty table (the floor any importer pays); for HTTP, the same
batches through the store function with no HTTP at all. Run: ``python -m bench.ingest``.
"""

from __future__ import annotations

import platform
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from app.api.inputs import PurchaseEvent
from app.db import make_engine, make_session_factory
from app.ingest.import_file import run_import
from app.ingest.importer import ONLINE_RETAIL, ImportStats, as_event, open_text, read_rows
from app.store.bulk import Row, load_purchases
from app.store.events import add_purchases
from bench.common import data_file, database, server, write_results

HTTP_EVENTS = 100_000
BATCH = 1000
CLIENTS = 2


def _rows(path: Path) -> list[Row]:
    with open_text(path) as handle:
        return list(read_rows(handle, ONLINE_RETAIL, ImportStats()))


def bench_importer(kind: str, path: Path, workdir: Path, rows: list[Row]) -> dict[str, Any]:
    with database(kind, workdir) as url:
        started = time.perf_counter()
        stats = run_import(path, ONLINE_RETAIL, database_url=url)
        seconds = time.perf_counter() - started
        started = time.perf_counter()
        again = run_import(path, ONLINE_RETAIL, database_url=url)
        reimport = time.perf_counter() - started
        assert again.stored == 0
    with database(kind, workdir) as url:
        engine = make_engine(url)
        started = time.perf_counter()
        load_purchases(engine, rows)
        baseline = time.perf_counter() - started
        engine.dispose()
    return {
        "rows_read": stats.rows,
        "rows_stored": stats.stored,
        "seconds": seconds,
        "rows_per_s": stats.rows / seconds,
        "reimport_rows_per_s": stats.rows / reimport,
        "baseline_load_only_seconds": baseline,
        "ratio_to_load_only": seconds / baseline,
    }


def _batches(rows: list[Row]) -> list[dict[str, Any]]:
    events = [as_event(r) for r in rows[:HTTP_EVENTS]]
    return [{"events": events[i : i + BATCH]} for i in range(0, len(events), BATCH)]


def bench_http(kind: str, workdir: Path, batches: list[dict[str, Any]]) -> dict[str, Any]:
    with database(kind, workdir) as url:
        env = {"NBO_DATABASE_URL": url, "NBO_SAMPLE_DATA": "", "NBO_TRAIN_ON_START": "false"}
        with server(env) as base:
            clients = [httpx.Client(base_url=base, timeout=60) for _ in range(CLIENTS)]

            def send(i: int) -> int:
                r = clients[i % CLIENTS].post("/v1/events/purchases", json=batches[i])
                r.raise_for_status()
                return int(r.json()["accepted"])

            started = time.perf_counter()
            with ThreadPoolExecutor(CLIENTS) as pool:
                accepted = sum(pool.map(send, range(len(batches))))
            seconds = time.perf_counter() - started
            for c in clients:
                c.close()
    with database(kind, workdir) as url:
        engine = make_engine(url)
        factory = make_session_factory(engine)
        started = time.perf_counter()
        for batch in batches:
            with factory() as session:
                add_purchases(session, [PurchaseEvent.model_validate(e).row() for e in batch["events"]])
                session.commit()
        baseline = time.perf_counter() - started
        engine.dispose()
    return {
        "events": accepted,
        "seconds": seconds,
        "events_per_s": accepted / seconds,
        "baseline_store_only_events_per_s": accepted / baseline,
        "ratio_http_to_store_only": baseline / seconds,
    }


def main() -> None:
    path = data_file()
    rows = _rows(path)
    batches = _batches(rows)
    results: dict[str, Any] = {
        "data": path.name,
        "machine": f"{platform.machine()}, {platform.python_version()}",
    }
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("sqlite", "postgresql"):
            results[kind] = {
                "importer": bench_importer(kind, path, Path(tmp), rows),
                "http": bench_http(kind, Path(tmp), batches),
            }
    lines = [
        "# Ingest throughput\n",
        f"Data: `{path.name}`; HTTP: {len(batches)} batches of {BATCH} events from {CLIENTS} clients, "
        "one uvicorn worker, on loopback. Command: `python -m bench.ingest`.\n",
        "| store | importer rows/s | re-import rows/s | importer ÷ bare load | HTTP events/s | "
        "store-only events/s | HTTP ÷ store-only |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for kind in ("sqlite", "postgresql"):
        imp, http = results[kind]["importer"], results[kind]["http"]
        lines.append(
            f"| {kind} | {imp['rows_per_s']:,.0f} | {imp['reimport_rows_per_s']:,.0f} | "
            f"{imp['ratio_to_load_only']:.2f}× time | {http['events_per_s']:,.0f} | "
            f"{http['baseline_store_only_events_per_s']:,.0f} | {http['ratio_http_to_store_only']:.2f} |"
        )
    lines.append(
        "\nTargets: importer ≥ 50,000 rows/s into PostgreSQL; HTTP ≥ 10,000 events/s on one worker.\n"
        "The importer's rows/s counts every row read (skipped rows included); the bare load is the "
        "driver's bulk insert of the already parsed rows.\n"
    )
    write_results("ingest", results, "\n".join(lines))


if __name__ == "__main__":
    main()
