"""The migrations build exactly the schema the tables declare, and 0004 keeps one training job."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, text

from app.db import make_engine, throwaway_database
from app.migrate import upgrade
from app.tables import metadata
from tests.conftest import BACKENDS, PG_URL


def test_migrated_schema_matches_the_tables(engine: Engine) -> None:
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert differences == []


@pytest.fixture(params=BACKENDS)
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'nbo.db'}"
        return
    with throwaway_database(PG_URL, "nbo_migration") as url:
        yield url


def test_upgrade_keeps_only_the_newest_of_several_training_versions(empty_url: str) -> None:
    upgrade(empty_url, "0003")
    engine = make_engine(empty_url)
    try:
        with engine.begin() as conn:
            for name, created in (("v1", datetime(2026, 1, 1)), ("v2", datetime(2026, 1, 2))):
                conn.execute(
                    text(
                        "INSERT INTO model_versions (version, status, active, as_of, created_at, metrics) "
                        "VALUES (:v, 'training', false, :t, :t, '{}')"
                    ),
                    {"v": name, "t": created},
                )
        upgrade(empty_url)
        with engine.connect() as conn:
            rows: dict[str, str] = dict(
                conn.execute(text("SELECT version, status FROM model_versions")).all()
            )
        assert rows == {"v1": "failed", "v2": "training"}
    finally:
        engine.dispose()
