"""Database outage: the harness's own PostgreSQL cluster stopped (as a crash) for about 10 s under a
mixed load of offers, profiles and ingest. During the outage only retryable 503s; never a 200 for a
write the store does not hold; recovery without restarting nbo, timed from the database's return."""

from __future__ import annotations

import itertools
import random
import time
from pathlib import Path
from typing import Any

import httpx

from app.migrate import upgrade
from bench.reliability import exactly_once
from bench.reliability.cluster import Cluster
from bench.reliability.load import Answer, Load, outcomes, send
from bench.reliability.shop import SAMPLE, open_shop

RETRYABLE = {"database_unavailable"}


def run(
    folder: Path, *, outage_seconds: float = 10.0, before: float = 5.0, after: float = 15.0
) -> dict[str, Any]:
    cluster = Cluster()
    try:
        cluster.start()
        cluster.create_database()
        upgrade(cluster.url)
        return _run(cluster, folder, outage_seconds, before, after)
    finally:
        cluster.remove(keep_log=folder / "postgresql.log")


def _run(
    cluster: Cluster, folder: Path, outage_seconds: float, before: float, after: float
) -> dict[str, Any]:
    shop = open_shop(cluster.url, folder)
    customers = shop.customers[:500]
    template = exactly_once.real_events(SAMPLE, 200)
    written: dict[str, dict[str, Any]] = {}  # event id → the event, for every batch sent
    acknowledged: set[str] = set()
    serial = itertools.count()

    def offers(http: httpx.Client, rng: random.Random) -> tuple[str, httpx.Response | None]:
        return "offers", send(http, "GET", f"/v1/customers/{rng.choice(customers)}/offers")

    def profile(http: httpx.Client, rng: random.Random) -> tuple[str, httpx.Response | None]:
        return "profile", send(http, "GET", f"/v1/customers/{rng.choice(customers)}/profile")

    def ingest(http: httpx.Client, rng: random.Random) -> tuple[str, httpx.Response | None]:
        n = next(serial)
        batch = [{**e, "event_id": f"outage-{n}-{i}"} for i, e in enumerate(rng.sample(template, 20))]
        written.update((e["event_id"], e) for e in batch)
        r = send(http, "POST", "/v1/events/purchases", json={"events": batch})
        if r is not None and r.status_code == 200:
            acknowledged.update(e["event_id"] for e in batch)
        return "ingest", r

    pid = shop.server.process.pid if shop.server.process else None
    load = Load(shop.server.base, [(6, offers), (2, profile), (2, ingest)], threads=6, seed=5)
    with load:
        time.sleep(before)
        cluster.stop()
        stopped = time.monotonic()  # the outage begins once the server is down
        time.sleep(outage_seconds / 2)
        ready_during = httpx.get(f"{shop.server.base}/readyz", timeout=10).status_code
        time.sleep(stopped + outage_seconds - time.monotonic())
        # The cluster accepts connections a little before pg_ctl sees it ready (it polls): the
        # outage ends when the start is asked for, recovery is timed from readiness.
        restarting = time.monotonic()
        cluster.start()
        back = time.monotonic()
        time.sleep(after)
    ready_after = httpx.get(f"{shop.server.base}/readyz", timeout=10).status_code
    alive = shop.server.process is not None and shop.server.process.poll() is None
    same_process = alive and shop.server.process is not None and shop.server.process.pid == pid
    shop.server.stop()
    answers = load.answers
    during = [a for a in answers if stopped <= a.sent and a.sent + a.took <= restarting]
    wrong = [a for a in during if a.status != 503 or a.code not in RETRYABLE]
    # Requests sent before the stop and answered after it, or answered while the cluster started,
    # may get either answer: they are judged by the store alone.
    stored = exactly_once.compare(cluster.url, list(written.values()), acknowledged)
    return {
        "outage_seconds": round(restarting - stopped, 1),
        "startup_seconds": round(back - restarting, 2),
        "requests": len(answers),
        "during": outcomes(during),
        "not_retryable_during": len(wrong),
        "wrong_examples": [f"{a.kind} {a.status} {a.code}" for a in wrong[:5]],
        "after": outcomes([a for a in answers if a.sent >= back]),
        "recovery_seconds": recovery(answers, back),
        "acknowledged_writes": stored["acknowledged"],
        "acknowledged_lost": stored["lost"],
        "duplicated": stored["duplicated"],
        "ready_after": ready_after,
        "ready_during": ready_during,
        "same_process": same_process,
    }


def recovery(answers: list[Answer], back: float) -> dict[str, float | None]:
    """Per kind: seconds from the database's return to the first 200 after which every answer of
    that kind was a 200 (None: never)."""
    found: dict[str, float | None] = {}
    for kind in sorted({a.kind for a in answers}):
        mine = sorted((a for a in answers if a.kind == kind), key=lambda a: a.sent + a.took)
        last_bad = max((a.sent + a.took for a in mine if a.status != 200), default=back)
        first_good = [a.sent + a.took for a in mine if a.status == 200 and a.sent + a.took >= last_bad]
        found[kind] = round(max(first_good[0] - back, 0.0), 2) if first_good else None
    return found
