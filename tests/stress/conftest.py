"""A fresh, migrated database per stress test (SQLite, and PostgreSQL when NBO_TEST_DATABASE_URL
names a server), written by real ``nbo serve`` processes and dropped afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BACKENDS, PG_URL, fresh_database


@pytest.fixture(params=BACKENDS)
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_database(request.param, tmp_path, "nbo_stress") as url:
        yield url


@pytest.fixture
def fuzz_url(tmp_path: Path) -> Iterator[str]:
    """The fuzzing's database: PostgreSQL when there is one (as the harness runs it), else SQLite."""
    with fresh_database("postgresql" if PG_URL else "sqlite", tmp_path, "nbo_fuzz") as url:
        yield url
