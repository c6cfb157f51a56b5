"""``nbo simulate``: a held-out month of real purchases replayed as the clients' behaviour, so that
campaigns, attribution and experiments run on real data.

In a store of its own (a SQLite file in a temporary folder, or ``--database-url``), it imports the
file's purchases before ``as_of``, trains as of then, serves the API on a loopback port, and talks
to it over HTTP as a shop would: it starts an experiment (a holdout and the offers), runs a campaign
over every customer, reports an impression of each offer sent and clicks drawn from the click
model, then sends the month's real purchases. What nbo then attributes, and the experiment's
uplift, are read back from the API.

The click model (seeded): an offered product at rank r (0 first) is clicked with probability
``0.30 / (r + 1)`` when the customer buys it in the replayed month, else ``0.02 / (r + 1)``.
Purchases are the real ones: offers cannot change them, so the uplift measures chance alone and its
interval should hold 0; the attributed conversions are real purchases of offered products.
"""

from __future__ import annotations

import json
import random
import socket
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import uvicorn

from app.config import Settings
from app.db import make_engine
from app.ingest.importer import ONLINE_RETAIL, ImportStats, as_event, open_text, read_rows
from app.main import create_app
from app.migrate import upgrade
from app.store.bulk import Row, load_purchases

BATCH = 1000


def click_probability(rank: int, bought: bool) -> float:
    return (0.30 if bought else 0.02) / (rank + 1)


@dataclass
class Api:
    base: str

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.base + path, data=data, method=method, headers={"content-type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=120) as answer:
            return json.loads(answer.read())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rows(path: Path) -> list[Row]:
    with open_text(path) as handle:
        return list(read_rows(handle, ONLINE_RETAIL, ImportStats()))


def _iso(moment: datetime) -> str:
    return moment.isoformat() + "Z"


def simulate(
    path: Path,
    *,
    as_of: datetime | None,
    days: float,
    holdout: float,
    seed: int,
    database_url: str | None,
    settings: Settings,
    say: Any = print,
) -> dict[str, Any]:
    """Run the replay; returns the campaign, its attributed figures and the experiment's results."""
    rows = _rows(path)
    last = max(r[5] for r in rows)
    moment = as_of if as_of is not None else last - timedelta(days=days)
    end = moment + timedelta(days=days)
    before = [r for r in rows if r[5] < moment]
    month = [r for r in rows if moment <= r[5] < end]
    say(f"{len(before):,} purchase lines before {moment:%Y-%m-%d}; {len(month):,} replayed to {end:%Y-%m-%d}")
    with tempfile.TemporaryDirectory(prefix="nbo-simulate-") as work:
        url = database_url or f"sqlite:///{Path(work) / 'store.db'}"
        upgrade(url)
        engine = make_engine(url)
        try:
            load_purchases(engine, before)
        finally:
            engine.dispose()
        local = settings.model_copy(
            update={
                "database_url": url,
                "models_dir": Path(work) / "models",
                "api_keys": {},
                "sample_data": None,
                "train_on_start": False,
            }
        )
        port = _free_port()
        server = uvicorn.Server(
            uvicorn.Config(create_app(local), host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, name="nbo-simulate", daemon=True)
        thread.start()
        try:
            while not server.started:
                time.sleep(0.05)
            return _replay(Api(f"http://127.0.0.1:{port}"), moment, end, month, holdout, seed, say)
        finally:
            server.should_exit = True
            thread.join(timeout=30)


def _wait(api: Api, path: str, done: Any, timeout: float = 600.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        answer = api.call("GET", path)
        if done(answer):
            return answer
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path}: still {answer}")
        time.sleep(0.2)


def _replay(
    api: Api, moment: datetime, end: datetime, month: list[Row], holdout: float, seed: int, say: Any
) -> dict[str, Any]:
    version = api.call("POST", "/v1/models", {"as_of": _iso(moment)})["version"]
    model = _wait(api, f"/v1/models/{version}", lambda m: m["status"] != "training")
    say(f"trained {version} as of {moment:%Y-%m-%d}: {model['status']}")
    variants = [
        {"name": "holdout", "weight": holdout, "holdout": True},
        {"name": "offers", "weight": 1.0 - holdout},
    ]
    api.call("PUT", "/v1/experiments/simulate", {"variants": variants})
    started = api.call(
        "POST",
        "/v1/campaigns",
        {
            "name": "simulated month",
            "channel": "web",
            "offers_per_recipient": 5,
            "dry_run": False,
            "as_of": _iso(moment),
        },
    )
    campaign = _wait(api, f"/v1/campaigns/{started['campaign_id']}", lambda c: c["status"] != "running")
    say(f"campaign {campaign['campaign_id']}: {campaign['recipients']:,} sent, skipped {campaign['skipped']}")
    sent = api.call("GET", f"/v1/campaigns/{campaign['campaign_id']}/recipients")
    bought = {(r[1], r[2]) for r in month if r[3] > 0}
    rng = random.Random(seed)
    feedback: list[dict[str, Any]] = []
    shown_at = _iso(moment + timedelta(hours=1))
    for recipient in sent:
        for rank, product in enumerate(recipient["offers"]):
            base = {
                "recommendation_id": recipient["recommendation_id"],
                "customer_id": recipient["customer_id"],
                "product_id": product,
                "occurred_at": shown_at,
                "channel": recipient["channel"],
            }
            feedback.append(
                {**base, "event_id": f"sim-i-{recipient['recommendation_id']}-{rank}", "type": "impression"}
            )
            if rng.random() < click_probability(rank, (recipient["customer_id"], product) in bought):
                feedback.append(
                    {**base, "event_id": f"sim-c-{recipient['recommendation_id']}-{rank}", "type": "click"}
                )
    for i in range(0, len(feedback), BATCH):
        api.call("POST", "/v1/events/feedback", {"events": feedback[i : i + BATCH]})
    events = [as_event(r) for r in month]
    for i in range(0, len(events), BATCH):
        api.call("POST", "/v1/events/purchases", {"events": events[i : i + BATCH]})
    say(f"sent {len(feedback):,} feedback events and {len(events):,} purchases")
    query = f"group_by=campaign&from={_iso(moment)}&to={_iso(end)}"
    metrics = api.call("GET", f"/v1/metrics/offers?{query}")
    results = api.call("GET", "/v1/experiments/simulate/results")
    return {
        "as_of": _iso(moment),
        "until": _iso(end),
        "campaign": campaign,
        "metrics": metrics,
        "experiment": results,
    }


def report(found: dict[str, Any], say: Any = print) -> None:
    """What the replay shows, in words."""
    for g in found["metrics"]["groups"]:
        say(
            f"campaign {g['key']}: {g['offers']:,} offers, {g['impressions']:,} impressions, {g['clicks']:,}"
            f" clicks (CTR {g['ctr']:.1%}), {g['conversions']:,} conversions"
            f" ({g['conversion_rate']:.1%} of offers), attributed revenue {g['revenue']:,.2f}"
        )
    window = found["experiment"]["window_days"]
    for v in found["experiment"]["variants"]:
        lift = v["uplift_vs_control"]
        line = (
            f"variant {v['name']}: {v['customers']:,} customers, {v['conversion_rate']:.1%} bought within"
            f" {window:g} days, {v['revenue_per_customer']:,.2f} a customer"
        )
        if lift:
            low, high = lift["ci95"]
            line += f"; uplift {lift['estimate']:+.2f} a customer, 95 % interval [{low:+.2f}, {high:+.2f}]"
        say(line)
