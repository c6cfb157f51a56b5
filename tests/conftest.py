"""Real databases for every test: SQLite always, PostgreSQL when NBO_TEST_DATABASE_URL names a server.

Each PostgreSQL run creates its own database and drops it at the end. A test gets a session inside a
transaction that is rolled back afterwards; tests that need real commits across connections use
``committed_app`` and the tables are emptied after them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.config import Settings, get_settings
from app.db import make_engine, throwaway_database
from app.main import create_app
from app.migrate import upgrade
from app.store.recommendations import RecommendationLog
from app.store.tables import metadata
from app.web.deps import get_session

PG_URL = os.environ.get("NBO_TEST_DATABASE_URL", "")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])
FULL_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "online-retail" / "online_retail.csv.gz"


@contextmanager
def fresh_database(kind: str, folder: Path, prefix: str = "nbo_test") -> Iterator[str]:
    """A migrated database of its own: an SQLite file in ``folder``, or one on the PostgreSQL server
    dropped afterwards."""
    if kind == "sqlite":
        url = f"sqlite:///{folder / 'nbo.db'}"
        upgrade(url)
        yield url
        return
    with throwaway_database(PG_URL, prefix) as url:
        upgrade(url)
        yield url


@pytest.fixture(scope="session", params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(request.param, tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture(scope="session")
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session whose work, commits included, is rolled back after the test."""
    with engine.connect() as conn:
        outer = conn.begin()
        with Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False) as s:
            yield s
        outer.rollback()


def empty_tables(engine: Engine) -> None:
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            names = ", ".join(t.name for t in metadata.sorted_tables)
            # Sequences go on counting: purchase ids are never reused (app/store/purchase_cache.py needs it).
            conn.exec_driver_sql(f"TRUNCATE {names} CASCADE")
            return
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture
def committed_engine(engine: Engine) -> Iterator[Engine]:
    """The test database for tests that commit on connections of their own; emptied afterwards."""
    try:
        yield engine
    finally:
        empty_tables(engine)


@pytest.fixture
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Settings read from the environment, as ``nbo`` reads them: an SQLite store and a models folder
    in ``tmp_path`` (yielded: the store is ``nbo.db`` in it), and whatever ``NBO_`` variables the
    test sets; the settings cache is cleared before and after."""
    monkeypatch.setenv("NBO_DATABASE_URL", f"sqlite:///{tmp_path / 'nbo.db'}")
    monkeypatch.setenv("NBO_MODELS_DIR", str(tmp_path / "models"))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=db_url,
        models_dir=tmp_path / "models",
        api_keys={},
        sample_data=None,
        train_on_start=False,
        retrain_every_hours=0,
        model_poll_seconds=0.2,
    )


class QueuedOnly(RecommendationLog):
    def start(self) -> None:
        """No writer thread: the queue keeps what was offered and nothing leaves the test."""


@pytest.fixture
def client(settings: Settings, engine: Engine, session: Session) -> Iterator[TestClient]:
    """The app on the test database, every request inside the test's rolled-back transaction.

    The offers it answers are queued but not written: the writer uses a connection of its own,
    outside the transaction (on SQLite it would wait for the test's lock and write after the
    rollback). ``committed_client`` writes them, and tests/store/test_recommendations.py checks it."""
    app = create_app(settings)
    app.dependency_overrides[get_session] = lambda: session
    app.state.recommendation_log = QueuedOnly(engine)
    with TestClient(app) as c:
        yield c


@pytest.fixture
def committed_client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    """The app with real commits on its own connections; the tables are emptied afterwards."""
    app = create_app(settings)
    try:
        with TestClient(app) as c:
            yield c
    finally:
        empty_tables(engine)
