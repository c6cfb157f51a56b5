"""Killed training: ``nbo train`` processes SIGKILLed while they write their artifact (and once
mid-fit), while clients ask for offers. The active version keeps serving, no killed version is
ever active nor left on disk, and the next job starts within the lease (plus one claim poll)."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, select

from app.store.tables import ModelVersion
from app.training.claim import CLAIM_POLL_SECONDS
from bench.reliability.load import Load, outcomes, send
from bench.reliability.served import ROOT
from bench.reliability.shop import open_shop, serving

LEASE_SECONDS = 10.0


def run(
    database_url: str, folder: Path, *, trials: tuple[str, ...] = ("writing", "writing", "fitting")
) -> dict[str, Any]:
    shop = open_shop(database_url, folder, NBO_TRAINING_LEASE_SECONDS=str(LEASE_SECONDS))
    base, models = shop.server.base, folder / "models"
    engine = create_engine(database_url)

    def row(version: str) -> ModelVersion | None:
        with engine.connect() as conn:
            found = conn.execute(select(ModelVersion).where(ModelVersion.version == version)).first()
        return found  # type: ignore[return-value]

    def offers(http: httpx.Client, rng: random.Random) -> tuple[str, httpx.Response | None]:
        return "offers", send(http, "GET", f"/v1/customers/{rng.choice(shop.customers[:1000])}/offers")

    served = [shop.version]  # the versions activated, in turn
    found: list[dict[str, Any]] = []
    load = Load(base, [(1, offers)], threads=3, seed=9)
    try:
        with load:
            for n, moment in enumerate(trials):
                before = {p.name for p in models.iterdir()}
                trainer = subprocess.Popen(
                    [sys.executable, "-m", "app.cli", "train"],
                    env=shop.server.env,
                    cwd=ROOT,
                    stdout=subprocess.DEVNULL,
                    stderr=(folder / f"train-{n}.log").open("wb"),
                )
                known = {m["version"] for m in httpx.get(f"{base}/v1/models", timeout=30).json()["models"]}
                claimed_at: float | None = None
                while trainer.poll() is None:
                    if moment == "writing":
                        if any(p.startswith(".") for p in {p.name for p in models.iterdir()} - before):
                            break  # its artifact is half written
                        time.sleep(0.002)
                        continue
                    # Mid-fit: half a second after its job took the claim.
                    if claimed_at is None:
                        newest = httpx.get(f"{base}/v1/models", timeout=30).json()["models"][0]
                        if newest["version"] not in known and newest["status"] == "training":
                            claimed_at = time.monotonic()
                    elif time.monotonic() - claimed_at > 0.5:
                        break
                    time.sleep(0.02)
                finished = trainer.poll() is not None
                trainer.send_signal(signal.SIGKILL)
                trainer.wait()
                killed_at = time.monotonic()
                left = sorted({p.name for p in models.iterdir()} - before)
                killed = httpx.get(f"{base}/v1/models", timeout=30).json()["models"][0]["version"]
                # The next job: asked of the server at once; it waits for the dead job's lease.
                version = httpx.post(f"{base}/v1/models", json={}, timeout=60).json()["version"]
                while (r := row(version)) is None or (r.running is None and r.status == "training"):
                    time.sleep(0.05)
                took_over = time.monotonic() - killed_at
                while (r := row(version)) is not None and r.status == "training":
                    time.sleep(0.2)
                dead = row(killed)
                if finished and dead is not None and dead.activated_at is not None:
                    served.append(killed)  # it ended before the kill: a version like any other
                if r is not None and r.active:
                    served.append(version)
                    serving(base, version)
                found.append(
                    {
                        "moment": moment,
                        "exited_before_the_kill": finished,
                        "left_on_disk_at_the_kill": left,
                        "killed_version_status": dead.status if dead else None,
                        "killed_version_on_disk": (models / killed).exists(),
                        "partial_left": sorted(p.name for p in models.iterdir() if p.name.startswith(".")),
                        "next_job_started_s": round(took_over, 2),
                        "next_job_status": r.status if r else None,
                    }
                )
    finally:
        shop.server.stop()
        engine.dispose()
    answers = load.answers
    return {
        "lease_seconds": LEASE_SECONDS,
        "claim_poll_seconds": CLAIM_POLL_SECONDS,
        "trials": found,
        "requests": len(answers),
        "outcomes": outcomes(answers),
        "served_versions": served,
        "answers_from_other_versions": sum(1 for a in answers if a.version not in served),
    }
