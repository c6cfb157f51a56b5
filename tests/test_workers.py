"""Several uvicorn workers all follow the active version: training, a newer one, a rollback."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from tests.api.helpers import ingest, shop_events, train
from tests.server import nbo_serve


def served_by_every_worker(base: str, version: str, timeout: float = 120.0) -> None:
    """Until 40 requests in a row, each on a connection of its own (the workers share connections
    out), are answered by ``version``."""
    deadline = time.monotonic() + timeout
    while True:
        seen = {
            httpx.get(f"{base}/v1/customers/c0/offers", timeout=5).json()["model_version"] for _ in range(40)
        }
        if seen == {version}:
            return
        assert time.monotonic() < deadline, f"still served after {timeout} s: {seen}"
        time.sleep(0.2)


@pytest.mark.slow
def test_every_worker_follows_activation_and_rollback(
    db_url: str, committed_engine: Engine, tmp_path: Path
) -> None:
    folder = tmp_path / "metrics"
    with (
        nbo_serve(
            db_url,
            tmp_path,
            NBO_WORKERS="2",
            NBO_MODEL_POLL_SECONDS="0.2",
            PROMETHEUS_MULTIPROC_DIR=str(folder),
        ) as served,
        httpx.Client(base_url=served.base, timeout=30) as client,
    ):
        ingest(client, shop_events())
        first = train(client)
        assert first["active"]
        served_by_every_worker(served.base, first["version"])

        second = train(client)  # the same settings as the active version: it passes the gate
        assert second["active"]
        served_by_every_worker(served.base, second["version"])

        r = client.post(f"/v1/models/{first['version']}/activate")
        assert r.status_code == 200, r.text
        served_by_every_worker(served.base, first["version"])

        writers = {p.stem.rsplit("_", 1)[-1] for p in folder.glob("counter_*.db")}
        # Both workers answered, and neither was replaced: a worker the supervisor killed for being
        # slow to answer its ping (busy starting, or loading a model) would have come back under
        # another pid.
        assert len(writers) == 2
