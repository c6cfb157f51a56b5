from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app import versions
from app.config import Settings
from app.db import make_session_factory
from app.main import create_app
from app.schemas import PurchaseEvent, utcnow
from app.store import add_purchases
from app.tables import ModelVersion
from app.training import INTERRUPTED, Trainer
from tests.api.helpers import shop_events


def status(engine: Engine, version: str) -> tuple[str, str | None]:
    with Session(engine) as s:
        row = s.get(ModelVersion, version)
        assert row is not None
        return row.status, row.error


def test_versions_left_training_long_ago_are_failed_at_start(
    committed_engine: Engine, settings: Settings
) -> None:
    now = utcnow()
    with Session(committed_engine) as s:
        for name, created, state in (
            ("v-old", now - timedelta(hours=2), "training"),
            ("v-new", now, "training"),  # may be running in another process right now
            ("v-done", now - timedelta(hours=2), "ready"),
        ):
            s.add(ModelVersion(version=name, status=state, as_of=now, created_at=created, metrics={}))
        s.commit()
    with TestClient(create_app(settings)):
        pass
    assert status(committed_engine, "v-old")[0] == "failed"
    assert "abandoned" in (status(committed_engine, "v-old")[1] or "")
    assert status(committed_engine, "v-new") == ("training", None)
    assert status(committed_engine, "v-done")[0] == "ready"


def test_shutdown_fails_unfinished_jobs_and_they_stay_failed(
    committed_engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    with Session(committed_engine) as s:
        add_purchases(s, events=[PurchaseEvent.model_validate(e) for e in shop_events(customers=90)])
        s.commit()
    factory = make_session_factory(committed_engine)
    trainer = Trainer(factory, tmp_path, settings.train)
    names = []
    with factory() as s:
        for _ in range(2):
            names.append(versions.create(s, as_of=datetime(2011, 12, 1)).version)
            time.sleep(0.001)
        s.commit()
    running = trainer.submit(names[0], datetime(2011, 12, 1))
    queued = trainer.submit(names[1], datetime(2011, 12, 1))
    deadline = time.monotonic() + 10
    while not running.running() and time.monotonic() < deadline:
        time.sleep(0.001)
    assert running.running()
    trainer.shutdown()
    assert queued.cancelled()
    for name in names:
        assert status(committed_engine, name) == ("failed", INTERRUPTED)
    running.result(timeout=60)  # the running one finishes its work ...
    assert status(committed_engine, names[0]) == ("failed", INTERRUPTED)  # ... and does not record itself
    assert not (tmp_path / names[0]).exists()
