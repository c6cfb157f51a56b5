"""Campaigns and the contact policy at the size of the full Online Retail store, on one worker.

1. A dry run and a real run of a campaign to every customer with a refill due within 14 days of the
   data's last day, on the web channel: the wall time of each (the dry run answers when done; the
   real run is followed until done).
2. Offers' latency with a contact policy and a ledger of a million contacts, beside offers without:
   wrk on ``/offers?channel=web`` (the policy read on every request: the customer's contacts, consent,
   dismissals, impressions) and on ``/offers`` in turn, several rounds. The policy's caps are set high
   enough that no request is blocked, so both runs rank every customer and the difference is the
   policy's own cost.
Run: ``python -m bench.campaign`` (needs ``wrk``).
"""

from __future__ import annotations

import random
import shutil
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from sqlalchemy import func, insert, select, text

from app.config import Settings
from app.db import make_engine, make_session_factory
from app.ingest.import_file import run_import
from app.ingest.importer import ONLINE_RETAIL
from app.store.tables import Contact, Purchase
from app.training.first_run import train_now
from bench.common import data_file, database, server, write_results
from bench.serve import LUA, summary, wrk

CONTACTS = 1_000_000
ROUNDS = 5
POLICY = {
    "caps": [
        {"channel": "web", "max": 10_000, "per_days": 7},
        {"channel": "any", "max": 10_000, "per_days": 30},
    ],
    "cooldown_after_dismiss_days": 3,
    "max_impressions_without_click": 1000,
}


def fill_ledger(url: str, customers: list[str], last: datetime) -> float:
    """CONTACTS contacts spread over the customers and the 30 days before ``last``; seconds taken."""
    rng = random.Random(7)
    started = time.perf_counter()
    engine = make_engine(url)
    try:
        for start in range(0, CONTACTS, 50_000):
            rows = [
                {
                    "customer_id": rng.choice(customers),
                    "channel": rng.choice(("email", "sms", "web")),
                    "recommendation_id": f"ledger-{n}",
                    "campaign_id": None,
                    "contacted_at": last - timedelta(minutes=rng.randrange(30 * 24 * 60)),
                }
                for n in range(start, start + 50_000)
            ]
            with engine.begin() as conn:
                conn.execute(insert(Contact), rows)
        if engine.dialect.name == "postgresql":
            with engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE contacts")
    finally:
        engine.dispose()
    return time.perf_counter() - started


def campaign(base: str, as_of: datetime, dry_run: bool) -> dict[str, Any]:
    body = {
        "name": "refills due in 14 days",
        "audience": {"due_within_days": 14},
        "channel": "web",
        "offers_per_recipient": 3,
        "dry_run": dry_run,
        "as_of": as_of.isoformat() + "Z",
    }
    started = time.perf_counter()
    answer = httpx.post(f"{base}/v1/campaigns", json=body, timeout=600).json()
    while answer["status"] == "running":
        time.sleep(0.1)
        answer = httpx.get(f"{base}/v1/campaigns/{answer['campaign_id']}").json()
    return {**answer, "seconds": time.perf_counter() - started}


def bench(kind: str, workdir: Path) -> dict[str, Any]:
    with database(kind, workdir) as url:
        run_import(data_file(), ONLINE_RETAIL, database_url=url)
        settings = Settings(database_url=url, models_dir=workdir / f"models-{kind}", sample_data=None)
        engine = make_engine(url)
        with make_session_factory(engine)() as s:
            last = s.scalar(select(func.max(Purchase.occurred_at)))
            customers = [r[0] for r in s.execute(text("SELECT customer_id FROM customers")).all()]
        engine.dispose()
        assert last is not None
        as_of = last + timedelta(days=1)
        train_now(settings, Console(quiet=True), as_of)
        env = {
            "NBO_DATABASE_URL": url,
            "NBO_MODELS_DIR": str(settings.models_dir),
            "NBO_SAMPLE_DATA": "",
            "NBO_TRAIN_ON_START": "false",
        }
        ids = customers[:2000]
        plain, policed = workdir / "offers.lua", workdir / "offers-web.lua"
        listed = ", ".join(f'"{i}"' for i in ids)
        plain.write_text(LUA % listed)
        policed.write_text((LUA % listed).replace("/offers?limit=10", "/offers?limit=10&channel=web"))
        with server(env) as base:
            dry = campaign(base, as_of, dry_run=True)
            real = campaign(base, as_of, dry_run=False)
            ledger_seconds = fill_ledger(url, customers, last)
            stored = httpx.put(f"{base}/v1/policy", json=POLICY)
            assert stored.status_code == 200, stored.text
            for _ in range(50):  # warm up
                httpx.get(f"{base}/v1/customers/{ids[0]}/offers?channel=web")
            rounds = []
            for _ in range(ROUNDS):
                without = wrk(base, plain)
                with_policy = wrk(base, policed)
                rounds.append({"without": without, "with_policy": with_policy})
            blocked = httpx.get(f"{base}/v1/customers/{ids[1]}/offers?channel=web").json()["blocked_by"]
    return {
        "dry_run": {k: dry[k] for k in ("recipients", "skipped", "seconds")},
        "real_run": {k: real[k] for k in ("recipients", "skipped", "seconds", "status")},
        "ledger_contacts": CONTACTS,
        "ledger_seconds": ledger_seconds,
        "blocked_by_sample": blocked,
        "without": summary([r["without"] for r in rounds]),
        "with_policy": summary([r["with_policy"] for r in rounds]),
        "p99_ratios": [r["with_policy"]["p99_ms"] / r["without"]["p99_ms"] for r in rounds],
    }


def main() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    results: dict[str, Any] = {"data": data_file().name}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("sqlite", "postgresql"):
            results[kind] = bench(kind, Path(tmp))
    lines = [
        "# Campaigns and the contact policy",
        "",
        f"Data: `{results['data']}`; one uvicorn worker. A campaign to every customer with a refill due"
        " within 14 days of the data's last day, on the web channel: a dry run, then a real run"
        f" (followed until done). Then a ledger of {CONTACTS:,} contacts over 30 days and a policy"
        " whose caps block nobody;"
        f" wrk -t1 -c8 -d5s on `/offers?channel=web` beside `/offers`, {ROUNDS} rounds in turn: medians"
        " [range]. Command: `python -m bench.campaign`.",
        "",
        "| store | recipients | dry run s | real run s | offers p99 ms | with policy p99 ms | p99 ratio"
        " | req/s | with policy req/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for kind in ("sqlite", "postgresql"):
        r = results[kind]
        w, p = r["without"], r["with_policy"]
        ratio = statistics.median(r["p99_ratios"])
        lines.append(
            f"| {kind} | {r['real_run']['recipients']:,} | {r['dry_run']['seconds']:.1f}"
            f" | {r['real_run']['seconds']:.1f}"
            f" | {w['p99_ms'][0]:.2f} [{w['p99_ms'][1]:.2f}–{w['p99_ms'][2]:.2f}]"
            f" | {p['p99_ms'][0]:.2f} [{p['p99_ms'][1]:.2f}–{p['p99_ms'][2]:.2f}] | {ratio:.2f}"
            f" | {w['rps'][0]:,.0f} | {p['rps'][0]:,.0f} |"
        )
    lines += ["", "Targets: each run under 30 s; p99 with the policy and the ledger ≤ 1.2× without."]
    write_results("campaign", results, "\n".join(lines))


if __name__ == "__main__":
    main()
