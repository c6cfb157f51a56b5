from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from app.web.limits import RateLimiter

KEYS = {
    "k-shop": frozenset({"read", "write"}),
    "k-ops": frozenset({"read", "write", "admin"}),
    "k-read": frozenset({"read"}),
}
READ = "/v1/products/nope/similar"  # past authentication: a 404, and nothing written


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def keyed(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings.model_copy(update={"api_keys": KEYS}))) as c:
        yield c


def test_a_missing_or_wrong_key_is_401(keyed: TestClient) -> None:
    for headers in ({}, bearer("nope"), {"Authorization": "Basic k-shop"}, {"Authorization": "Bearer "}):
        r = keyed.get(READ, headers=headers)
        assert r.status_code == 401, headers
        assert r.json()["error"]["code"] == "unauthorized"
        assert "authorization" in r.json()["error"]["message"]


def test_a_key_without_the_scope_is_403(keyed: TestClient) -> None:
    assert keyed.get(READ, headers=bearer("k-read")).status_code == 404  # read: allowed
    r = keyed.put("/v1/products", json={"products": []}, headers=bearer("k-read"))
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "forbidden"
    assert "'write'" in r.json()["error"]["message"]
    assert keyed.get("/v1/models", headers=bearer("k-shop")).status_code == 403  # admin only
    assert keyed.get("/v1/models", headers=bearer("k-ops")).status_code == 200


def test_health_and_metrics_need_no_key(keyed: TestClient) -> None:
    for path in ("/healthz", "/readyz", "/metrics"):
        assert keyed.get(path).status_code == 200, path


def test_each_key_has_its_own_rate_limit(settings: Settings) -> None:
    limited = settings.model_copy(
        update={"api_keys": KEYS, "rate_limit_per_second": 1.0, "rate_limit_burst": 2.0}
    )
    app = create_app(limited)
    assert (app.state.rate_limiter.rate, app.state.rate_limiter.burst) == (1.0, 2.0)
    now = [0.0]  # the limiter's clock, moved by the test: no sleeping, no race with a slow machine
    app.state.rate_limiter = RateLimiter(1.0, 2.0, clock=lambda: now[0])
    with TestClient(app) as c:
        assert [c.get(READ, headers=bearer("k-shop")).status_code for _ in range(2)] == [404, 404]
        r = c.get(READ, headers=bearer("k-shop"))
        assert r.status_code == 429
        assert r.json()["error"]["code"] == "rate_limited"
        assert r.headers["retry-after"] == "1"
        assert c.get(READ, headers=bearer("k-ops")).status_code == 404  # another key: its own bucket
        now[0] += 0.5  # half a token back: still limited, and told when to come back
        assert c.get(READ, headers=bearer("k-shop")).status_code == 429
        now[0] += 0.5
        assert c.get(READ, headers=bearer("k-shop")).status_code == 404


def test_no_valid_key_is_401_before_the_body_is_read(keyed: TestClient) -> None:
    for body in (b"{not json", b"x" * 5_000_000):
        for headers in ({}, bearer("nope")):
            r = keyed.post(
                "/v1/events/purchases", content=body, headers={**headers, "content-type": "application/json"}
            )
            assert r.status_code == 401, (len(body), headers, r.text)
            assert r.json()["error"]["code"] == "unauthorized"
    headers = {**bearer("k-shop"), "content-type": "application/json"}
    r = keyed.post("/v1/events/purchases", content=b"{not json", headers=headers)
    assert r.status_code == 400  # a valid key: the body is read, and found malformed


def test_the_audience_export_needs_admin(keyed: TestClient) -> None:
    for key in ("k-read", "k-shop"):
        r = keyed.get("/v1/customers", headers=bearer(key))
        assert r.status_code == 403, key
        assert "'admin'" in r.json()["error"]["message"]
    assert keyed.get("/v1/customers", headers=bearer("k-ops")).status_code in (200, 503)
    assert keyed.get("/v1/segments", headers=bearer("k-read")).status_code in (200, 503)


def test_reach_needs_admin_but_offers_for_a_channel_need_read(keyed: TestClient) -> None:
    admin_only = [
        ("get", "/v1/policy"),
        ("put", "/v1/policy"),
        ("get", "/v1/campaigns"),
        ("post", "/v1/campaigns"),
        ("get", "/v1/campaigns/x/recipients"),
        ("get", "/v1/metrics/offers"),
        ("put", "/v1/experiments/x"),
        ("get", "/v1/experiments/x/results"),
    ]
    for method, path in admin_only:
        r = keyed.request(method, path, headers=bearer("k-shop"), json={})
        assert r.status_code == 403, (method, path)
        assert keyed.request(method, path, headers=bearer("k-ops"), json={}).status_code != 403, path
    r = keyed.get("/v1/customers/c-1/offers", params={"channel": "email"}, headers=bearer("k-read"))
    assert r.status_code in (200, 503), r.text  # past authentication
    assert keyed.get("/v1/products", headers=bearer("k-read")).status_code == 200
