from __future__ import annotations

import threading
import time
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from app.clock import utcnow
from app.config import Settings
from app.db import make_session_factory
from app.main import create_app
from app.store import versions
from app.store.tables import ModelVersion
from app.training.schedule import Schedule, due, keep_schedule, next_retrain
from tests.api.helpers import ingest, shop_events, train


def test_next_retrain_is_the_newest_version_plus_the_interval() -> None:
    now = utcnow()
    assert next_retrain(now, 24) == now + timedelta(hours=24)
    assert next_retrain(now, 0) is None  # off
    assert next_retrain(None, 24) is None  # nothing trained yet: the first run's job


def test_a_version_older_than_the_schedule_is_followed_by_a_new_one(
    committed_engine: Engine, settings: Settings
) -> None:
    settings = settings.model_copy(update={"retrain_every_hours": 1.0})
    app = create_app(settings)
    with TestClient(app) as client:
        ingest(client, shop_events())
        first = train(client)["version"]
        schedule: Schedule = app.state.schedule
        assert schedule.check() is None  # an hour has not passed
        with Session(committed_engine) as s:
            s.execute(update(ModelVersion).values(created_at=utcnow() - timedelta(hours=2)))
            s.commit()
        queued = schedule.check()
        assert queued is not None
        assert queued != first
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with Session(committed_engine) as s:
                status = getattr(versions.get(s, version=queued), "status", None)
                if status != "training":
                    break
            time.sleep(0.2)
        assert status == "ready"
        assert schedule.check() is None  # the new version is young


def test_the_trainer_trains_the_first_version_then_waits_for_the_schedule(
    committed_engine: Engine, settings: Settings
) -> None:
    settings = settings.model_copy(update={"retrain_every_hours": 6.0})
    with TestClient(create_app(settings)) as client:
        ingest(client, shop_events())
    stop = threading.Event()
    calls: list[int] = []

    def train_once() -> None:
        calls.append(1)
        with Session(committed_engine) as s:  # what `nbo train` leaves: a version, just made
            versions.create(s, as_of=utcnow())
            s.commit()
        stop.set()

    keep_schedule(settings, train_once, stop)
    assert calls == [1]
    # The version is young: nothing more until 6 h pass.
    assert due(make_session_factory(committed_engine), settings.retrain_every_hours, utcnow()) is False
