"""A shop behind API keys, for the dashboard's tests: shop_events() trained as of AS_OF, with a
read key, an admin key and a write-only key."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from app.config import Settings
from app.main import create_app
from tests.api.helpers import AS_OF, ingest, shop_events, train, wait_serving
from tests.conftest import empty_tables

KEYS = {"reader": ["read"], "boss": ["read", "write", "admin"], "feeder": ["write"]}
ADMIN = {"Authorization": "Bearer boss"}


class Shop(TestClient):
    """A client of the app (base URL http://testserver) that logs in as a key."""

    def login(self, key: str) -> None:
        self.cookies.clear()
        r = self.post("/dashboard/login", data={"key": key, "next": "/dashboard"}, follow_redirects=False)
        assert r.status_code == 303, r.text


@pytest.fixture
def shop(settings: Settings, engine: Engine) -> Iterator[Shop]:
    app = create_app(settings.model_copy(update={"api_keys": {k: frozenset(v) for k, v in KEYS.items()}}))
    try:
        with Shop(app) as client:
            client.headers.update(ADMIN)
            ingest(client, shop_events())
            version = train(client, as_of=AS_OF)
            wait_serving(client, version["version"])
            del client.headers["Authorization"]
            yield client
    finally:
        empty_tables(engine)
