"""Soak: mixed offers (90 %) and ingest (10 %) for a long run at a sustainable rate, measured first
as 80 % of what the same clients reach unpaced; requests/s, latencies, errors, and the server's
resident memory after a warm-up and at the end (it is sampled throughout)."""

from __future__ import annotations

import itertools
import random
import time
from pathlib import Path
from typing import Any

import httpx

from bench.reliability import exactly_once
from bench.reliability.load import Load, outcomes, percentiles, send
from bench.reliability.shop import SAMPLE, open_shop

THREADS = 8
SHARE_OF_MAXIMUM = 0.8


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"no VmRSS for {pid}")


def run(
    database_url: str, folder: Path, *, seconds: float = 600.0, probe: float = 20.0, warm: float = 30.0
) -> dict[str, Any]:
    shop = open_shop(database_url, folder)
    assert shop.server.process is not None
    pid = shop.server.process.pid
    customers = shop.customers[:2000]
    template = exactly_once.real_events(SAMPLE, 5000)
    serial = itertools.count()

    def offers(http: httpx.Client, rng: random.Random) -> tuple[str, httpx.Response | None]:
        return "offers", send(http, "GET", f"/v1/customers/{rng.choice(customers)}/offers")

    def ingest(http: httpx.Client, rng: random.Random) -> tuple[str, httpx.Response | None]:
        n = next(serial)
        batch = [{**e, "event_id": f"soak-{n}-{i}"} for i, e in enumerate(rng.sample(template, 2))]
        return "ingest", send(http, "POST", "/v1/events/purchases", json={"events": batch})

    mix = [(9, offers), (1, ingest)]
    try:
        with Load(shop.server.base, mix, threads=THREADS, seed=17) as unpaced:
            time.sleep(probe)
        maximum = len(unpaced.answers) / probe
        rate = round(maximum * SHARE_OF_MAXIMUM)
        memory: list[tuple[float, float]] = []  # seconds into the run, RSS MB
        with Load(shop.server.base, mix, threads=THREADS, seed=19, rate=rate) as paced:
            time.sleep(warm)
            started = time.monotonic()
            counted_from = len(paced.answers)
            while (elapsed := time.monotonic() - started) < seconds:
                memory.append((round(elapsed, 1), rss_mb(pid)))
                time.sleep(min(10.0, max(seconds - elapsed, 0.0)))
            memory.append((round(time.monotonic() - started, 1), rss_mb(pid)))
            answers = [a for a in paced.answers[counted_from:] if a.sent >= started]
    finally:
        shop.server.stop()
    start_mb, end_mb = memory[0][1], memory[-1][1]
    return {
        "unpaced_requests_per_s": round(maximum, 1),
        "rate": rate,
        "seconds": seconds,
        "requests": len(answers),
        "requests_per_s": round(len(answers) / seconds, 1),
        "outcomes": outcomes(answers),
        "errors": sum(1 for a in answers if a.status is None or a.status >= 400),
        "offers": percentiles([a.took for a in answers if a.kind == "offers"]),
        "ingest": percentiles([a.took for a in answers if a.kind == "ingest"]),
        "rss_mb_start": start_mb,
        "rss_mb_end": end_mb,
        "rss_mb_max": max(m for _, m in memory),
        "rss_growth": round(end_mb / start_mb - 1, 3),
        "rss_samples": memory,
    }
