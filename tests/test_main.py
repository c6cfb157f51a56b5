"""create_app builds an app and leaves the process as it found it; a ``nbo serve`` worker's app
(worker_app) tunes its process for serving."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from threadpoolctl import threadpool_info, threadpool_limits

from app.config import Settings
from app.main import create_app, worker_app
from app.migrate import upgrade


@pytest.fixture
def process_state() -> Iterator[None]:
    """Restores what worker_app changes, for the tests after this one."""
    interval, limits = sys.getswitchinterval(), {i["user_api"]: i["num_threads"] for i in threadpool_info()}
    yield
    sys.setswitchinterval(interval)
    threadpool_limits(limits)
    gc.unfreeze()


def test_create_app_changes_nothing_of_the_process(settings: Settings, process_state: None) -> None:
    before = (sys.getswitchinterval(), gc.get_freeze_count())
    with TestClient(create_app(settings.model_copy(update={"gil_switch_interval": 0.0007}))) as client:
        assert client.get("/healthz").status_code == 200
        assert (sys.getswitchinterval(), gc.get_freeze_count()) == before
    assert (sys.getswitchinterval(), gc.get_freeze_count()) == before


def test_a_worker_app_tunes_its_process(
    environment: Path, monkeypatch: pytest.MonkeyPatch, process_state: None
) -> None:
    monkeypatch.setenv("NBO_GIL_SWITCH_INTERVAL", "0.0007")
    monkeypatch.setenv("NBO_TRAIN_ON_START", "false")
    app = worker_app()
    assert sys.getswitchinterval() == pytest.approx(0.0007)
    blas = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
    assert blas
    assert set(blas) == {1}
    upgrade(f"sqlite:///{environment / 'nbo.db'}")
    with TestClient(app):
        assert gc.get_freeze_count() > 0  # what was loaded at start is out of the collector's way
    assert gc.get_freeze_count() == 0  # and back in it once the app stopped
