"""SIGTERM while requests are in flight: the listener closes, every begun request is answered in
full and committed, and the process exits cleanly."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app.store.tables import Purchase
from tests.api.test_metrics import sample
from tests.server import nbo_serve

BATCHES = 8
PER_BATCH = 1000


def batch(i: int) -> bytes:
    events = [
        {
            "event_id": f"sigterm-{i}-{j}",
            "customer_id": f"c{j % 50}",
            "product_id": f"p{j % 97}",
            "quantity": 1 + j % 3,
            "unit_price": 2.5,
            "occurred_at": "2011-05-01T10:00:00Z",
            "order_id": f"o{i}-{j % 50}",
        }
        for j in range(PER_BATCH)
    ]
    return json.dumps({"events": events}).encode()


def held_back(body: bytes, release: threading.Event) -> Iterator[bytes]:
    """Half the body now, the rest once released: the request is in the server's hands meanwhile."""
    half = len(body) // 2
    yield body[:half]
    release.wait(60)
    yield body[half:]


def in_progress(base: str) -> float:
    # The scrape is itself in progress while it is answered.
    return sample(httpx.get(f"{base}/metrics", timeout=5).text, "nbo_http_requests_in_progress") - 1


@pytest.mark.slow
def test_sigterm_lets_requests_in_flight_finish(
    db_url: str, committed_engine: Engine, tmp_path: Path
) -> None:
    release = threading.Event()
    answers: list[httpx.Response | BaseException | None] = [None] * BATCHES

    with nbo_serve(db_url, tmp_path) as served:

        def post(i: int) -> None:
            body = batch(i)
            try:
                answers[i] = httpx.post(
                    f"{served.base}/v1/events/purchases",
                    content=held_back(body, release),
                    headers={"content-type": "application/json", "content-length": str(len(body))},
                    timeout=60,
                )
            except BaseException as e:  # the assertion below says which and why
                answers[i] = e

        senders = [threading.Thread(target=post, args=(i,)) for i in range(BATCHES)]
        for t in senders:
            t.start()
        deadline = time.monotonic() + 30
        while in_progress(served.base) < BATCHES:
            assert time.monotonic() < deadline, "the requests never reached the app"
            time.sleep(0.05)

        served.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        while True:  # shutting down: no new connection is taken, the process waits for the others
            try:
                httpx.get(f"{served.base}/healthz", timeout=1)
            except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError):
                # Refused, or let into the kernel's queue as the listener closed and then dropped
                # unanswered: either way the new request is not served.
                break
            assert time.monotonic() < deadline, "the listener stayed open after SIGTERM"
            time.sleep(0.05)
        assert served.process.poll() is None, "the process left before its requests were answered"

        release.set()
        for t in senders:
            t.join(timeout=60)
        for i, answer in enumerate(answers):
            assert isinstance(answer, httpx.Response), f"batch {i}: {answer!r}"
            assert answer.status_code == 200, answer.text
            assert answer.json() == {"accepted": PER_BATCH, "duplicates": 0, "rejected": []}
        # uvicorn re-raises the signal it handled once its shutdown is complete, so a supervisor
        # sees the process end on SIGTERM (as PID 1 in a container, the exit code is 0).
        assert served.process.wait(timeout=30) == -signal.SIGTERM

    with Session(committed_engine) as s:
        assert s.scalar(select(func.count()).select_from(Purchase)) == BATCHES * PER_BATCH
