from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from app.config import Settings
from app.db import throwaway_database
from app.main import create_app
from app.migrate import upgrade
from tests.conftest import PG_URL


def _connections(name: str, allowed: bool) -> None:
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allowed).lower()}')
            if not allowed:
                conn.exec_driver_sql(
                    f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
                )
    finally:
        admin.dispose()


@pytest.mark.skipif(not PG_URL, reason="needs a PostgreSQL server (NBO_TEST_DATABASE_URL; always set in CI)")
def test_readyz_follows_the_database_away_and_back(tmp_path: Path) -> None:
    with throwaway_database(PG_URL, "nbo_ready") as url:
        upgrade(url)
        name = url.rsplit("/", 1)[-1]
        settings = Settings(
            database_url=url, models_dir=tmp_path, api_keys={}, sample_data=None, train_on_start=False
        )
        app = create_app(settings)
        with TestClient(app) as client:
            assert client.get("/readyz").status_code == 200
            _connections(name, allowed=False)  # as a stopped server looks from here
            try:
                r = client.get("/readyz")
                assert r.status_code == 503
                assert r.json()["error"]["code"] == "database_unavailable"
                assert client.get("/healthz").status_code == 200  # the process itself is fine
            finally:
                _connections(name, allowed=True)
            assert client.get("/readyz").status_code == 200
            app.state.engine.dispose()
