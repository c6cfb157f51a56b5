from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from app.config import Settings
from app.main import create_app
from tests.server import nbo_serve

OFFERS = "/v1/customers/{customer_id}/offers"


def sample(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return 0.0


def test_requests_and_ingest_are_counted(client: TestClient) -> None:
    before = client.get("/metrics")
    assert before.status_code == 200
    assert before.headers["content-type"].startswith("text/plain")
    events = [
        {"event_id": f"m-{i}", "customer_id": "m", "product_id": "p", "quantity": 1, "unit_price": 1.0,
         "occurred_at": "2011-01-01T00:00:00Z"}
        for i in range(2)
    ] + [{"event_id": "m-bad", "customer_id": "m"}]  # fmt: skip
    assert client.post("/v1/events/purchases", json={"events": events}).status_code == 200
    assert client.get("/v1/customers/m/offers").status_code == 200
    after = client.get("/metrics").text
    ingested = "nbo_ingest_events_total"
    for outcome, n in (("accepted", 2), ("rejected", 1), ("duplicate", 0)):
        grew = sample(after, ingested, kind="purchases", outcome=outcome) - sample(
            before.text, ingested, kind="purchases", outcome=outcome
        )
        assert grew == n, outcome
    offers = {"method": "GET", "route": OFFERS, "status": "200"}
    assert (
        sample(after, "nbo_http_requests_total", **offers)
        - sample(before.text, "nbo_http_requests_total", **offers)
        == 1
    )
    assert sample(after, "nbo_http_request_duration_seconds_count", method="GET", route=OFFERS) >= 1


def test_metrics_need_no_key(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"api_keys": {"k": frozenset({"read"})}}))
    with TestClient(app) as c:
        assert c.get("/metrics").status_code == 200
        assert c.get("/v1/customers/x/offers").status_code == 401


@pytest.mark.slow
def test_metrics_add_up_over_two_workers(tmp_path: Path) -> None:
    folder = tmp_path / "metrics"
    with nbo_serve(
        f"sqlite:///{tmp_path / 'nbo.db'}",
        tmp_path,
        NBO_WORKERS="2",
        PROMETHEUS_MULTIPROC_DIR=str(folder),
    ) as served:
        base = served.base
        n = 60
        for _ in range(n):  # a new connection each: the workers share them out
            assert httpx.get(f"{base}/v1/customers/x/offers", timeout=5).status_code == 200
        writers = {p.stem.rsplit("_", 1)[-1] for p in folder.glob("counter_*.db")}
        assert len(writers) == 2  # both workers answered and wrote their counts
        for _ in range(4):  # whichever worker answers the scrape, it adds both up
            text = httpx.get(f"{base}/metrics", timeout=5).text
            assert sample(text, "nbo_http_requests_total", method="GET", route=OFFERS, status="200") == n
