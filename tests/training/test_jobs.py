from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text, update
from sqlalchemy.orm import Session, sessionmaker

from app.api.inputs import PurchaseEvent
from app.clock import utcnow
from app.config import Settings
from app.db import make_engine, make_session_factory
from app.main import create_app
from app.serving.loaded import Serving
from app.store import versions
from app.store.events import add_purchases
from app.store.purchase_cache import PurchaseCache
from app.store.tables import ModelVersion
from app.training.claim import CLAIM_POLL_SECONDS
from app.training.jobs import INTERRUPTED, Trainer
from app.training.pipeline import train as real_train
from tests.api.helpers import ingest, shop_events


def status(engine: Engine, version: str) -> tuple[str, str | None]:
    with Session(engine) as s:
        row = s.get(ModelVersion, version)
        assert row is not None
        return row.status, row.error


@pytest.mark.parametrize("hours_ago", [2, 0])
def test_versions_left_training_long_ago_are_failed_at_start(
    committed_engine: Engine, settings: Settings, hours_ago: int
) -> None:
    now = utcnow()
    with Session(committed_engine) as s:
        for name, created, state in (
            ("v-training", now - timedelta(hours=hours_ago), "training"),
            ("v-done", now - timedelta(hours=2), "ready"),
        ):
            s.add(ModelVersion(version=name, status=state, as_of=now, created_at=created, metrics={}))
        s.commit()
    with TestClient(create_app(settings)):
        pass
    if hours_ago:  # longer than NBO_TRAINING_TIMEOUT_SECONDS: its process stopped
        assert status(committed_engine, "v-training")[0] == "failed"
        assert "abandoned" in (status(committed_engine, "v-training")[1] or "")
    else:  # may be running in another process right now
        assert status(committed_engine, "v-training") == ("training", None)
    assert status(committed_engine, "v-done")[0] == "ready"


def test_one_training_job_runs_at_a_time_across_processes(
    committed_engine: Engine, committed_client: TestClient
) -> None:
    ingest(committed_client, shop_events())
    with Session(committed_engine) as s:  # another process's job, running
        elsewhere = versions.create(s, as_of=utcnow()).version
        assert versions.claim(s, version=elsewhere) == "claimed"
        s.commit()
    pauses: list[float] = []
    seen: list[tuple[str, str | None]] = []
    answered = threading.Event()
    mine = ""

    def pause(seconds: float) -> bool:
        """The waiting job's clock: three turns go by before the other job finishes."""
        assert answered.wait(60)
        pauses.append(seconds)
        seen.append(status(committed_engine, mine))
        if len(pauses) == 3:
            with Session(committed_engine) as s:
                versions.finish(s, version=elsewhere, status="failed", metrics={}, error="test")
                s.commit()
                assert versions.claim(s, version=elsewhere) == "gone"
        return False

    committed_client.app.state.trainer.pause = pause  # type: ignore[attr-defined]
    r = committed_client.post("/v1/models", json={})
    assert r.status_code == 202
    mine = r.json()["version"]
    answered.set()
    deadline = time.monotonic() + 60
    while status(committed_engine, mine)[0] == "training":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert status(committed_engine, mine) == ("ready", None)
    assert pauses == [CLAIM_POLL_SECONDS] * 3  # it waited its turn, looking once a poll ...
    assert seen == [("training", None)] * 3  # ... and trained only once the claim was free


@pytest.fixture
def shop(committed_engine: Engine) -> sessionmaker[Session]:
    """A store of 90 customers' purchases, and its session factory."""
    with Session(committed_engine) as s:
        add_purchases(s, [PurchaseEvent.model_validate(e).row() for e in shop_events(customers=90)])
        s.commit()
    return make_session_factory(committed_engine)


def new_version(factory: sessionmaker[Session]) -> str:
    with factory() as s:
        name = versions.create(s, as_of=datetime(2011, 12, 1)).version
        s.commit()
    return name


def test_shutdown_fails_unfinished_jobs_and_they_stay_failed(
    committed_engine: Engine,
    shop: sessionmaker[Session],
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    trainer = Trainer(shop, tmp_path, settings.train, PurchaseCache())
    fitting = threading.Event()

    def train_until_shutdown(*args: Any, **kwargs: Any) -> Any:
        fitting.set()  # the job is past its claim and fitting when the service stops
        assert trainer.stopping.wait(60)
        return real_train(*args, **kwargs)

    monkeypatch.setattr("app.training.jobs.train", train_until_shutdown)
    name = new_version(shop)
    running = trainer.submit(name, datetime(2011, 12, 1))
    assert fitting.wait(60)
    trainer.shutdown(wait_seconds=60)
    assert running.done()  # the job is done with the store before the caller closes it ...
    assert status(committed_engine, name) == ("failed", INTERRUPTED)
    running.result()  # ... it finished its work ...
    assert status(committed_engine, name) == ("failed", INTERRUPTED)  # ... and does not record itself
    assert not (tmp_path / name).exists()


def test_a_job_failed_while_it_trained_stays_failed(
    committed_engine: Engine,
    shop: sessionmaker[Session],
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name = new_version(shop)

    def train_then_abandoned(*args: Any, **kwargs: Any) -> Any:
        fitted = real_train(*args, **kwargs)
        with shop() as s:  # another process started and took this job for abandoned
            assert versions.fail_unfinished(s, names=[name], error="abandoned elsewhere") == 1
            s.commit()
        return fitted

    monkeypatch.setattr("app.training.jobs.train", train_then_abandoned)
    Trainer(shop, tmp_path, settings.train, PurchaseCache()).submit(name, datetime(2011, 12, 1)).result(
        timeout=60
    )
    assert status(committed_engine, name) == ("failed", "abandoned elsewhere")
    with Session(committed_engine) as s:
        assert versions.active(s) is None
    assert not (tmp_path / name).exists()


def test_a_retrain_the_store_cannot_start_is_logged_not_raised(settings: Settings, tmp_path: Path) -> None:
    away = make_session_factory(make_engine("postgresql+psycopg://nobody@127.0.0.1:9/none"))
    assert Trainer(away, tmp_path, settings.train, PurchaseCache()).retrain() is None


def test_a_killed_jobs_claim_is_taken_over_after_its_lease(
    committed_engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    leased = settings.model_copy(update={"training_lease_seconds": 2.0, "models_dir": tmp_path})
    with Session(committed_engine) as s:  # a job killed mid-way: it holds the claim, renews nothing
        dead = versions.create(s, as_of=utcnow()).version
        assert versions.claim(s, version=dead) == "claimed"
        s.get_one(ModelVersion, dead).heartbeat_at = utcnow() - timedelta(seconds=10)
        s.commit()
    partial = tmp_path / f".{dead}.k1ll3d"  # what it was saving
    partial.mkdir(parents=True)
    (partial / "arrays.npz").write_bytes(b"half")
    with TestClient(create_app(leased)) as client:
        ingest(client, shop_events())
        r = client.post("/v1/models", json={})
        mine = r.json()["version"]
        deadline = time.monotonic() + 60
        while status(committed_engine, mine)[0] == "training":
            assert time.monotonic() < deadline, "still waiting for a dead job's claim"
            time.sleep(0.1)
    assert status(committed_engine, mine) == ("ready", None)
    assert status(committed_engine, dead) == ("failed", versions.LAPSED)
    assert not partial.exists()


def test_a_running_job_renews_its_claim(committed_engine: Engine, shop: sessionmaker[Session]) -> None:
    from app.training.claim import Heartbeat

    name = new_version(shop)
    with shop() as s:
        assert versions.claim(s, version=name) == "claimed"
        s.commit()

    def renewed_at() -> datetime:
        with shop() as s:
            return s.get_one(ModelVersion, name).heartbeat_at or datetime.min

    claimed_at = renewed_at()
    beat = Heartbeat(shop, name, every=0.05)
    beat.start()
    try:
        deadline = time.monotonic() + 30
        while renewed_at() <= claimed_at:  # its thread renews the claim ...
            assert time.monotonic() < deadline, "the heartbeat never renewed the claim"
            time.sleep(0.02)
    finally:
        beat.stop()
    last = renewed_at()
    with shop() as s:
        # ... a look within a lease of the last renewal keeps it ...
        assert versions.take_over_lapsed(s, lease_seconds=1.0, now=last + timedelta(seconds=0.9)) == []
        s.commit()
    with shop() as s:  # ... and with the heartbeat stopped, a lease later, the claim is taken over
        assert versions.take_over_lapsed(s, lease_seconds=1.0, now=last + timedelta(seconds=1.1)) == [name]
        s.commit()
    assert status(committed_engine, name) == ("failed", versions.LAPSED)


def test_a_job_takes_the_swap_before_it_locks_anything_in_the_store(
    committed_engine: Engine, shop: sessionmaker[Session], settings: Settings, tmp_path: Path
) -> None:
    """An activation holds the swap while it writes the versions' rows. A job that wrote its row,
    then waited for the swap, waited for ever on that activation, which waited for its row (found
    by the fuzzing: erasures and every writer queued behind, until the pool ran dry)."""
    serving = Serving(shop, tmp_path, poll_seconds=3600)
    asked = threading.Event()

    def serve_first(version: str) -> AbstractContextManager[Callable[[], None]]:
        asked.set()
        return serving.serving_first(version)

    name = new_version(shop)
    trainer = Trainer(shop, tmp_path, settings.train, PurchaseCache(), serve_first=serve_first)
    with serving._lock:  # as an activation holds it
        job = trainer.submit(name, datetime(2011, 12, 1))
        assert asked.wait(60)
        with Session(committed_engine) as s:  # and writes the version's row meanwhile
            if committed_engine.dialect.name == "postgresql":
                s.execute(text("SET LOCAL lock_timeout = '3s'"))
            else:
                s.execute(text("PRAGMA busy_timeout = 3000"))
            s.execute(update(ModelVersion).where(ModelVersion.version == name).values(error=None))
            s.commit()
    job.result(timeout=60)
    assert status(committed_engine, name) == ("ready", None)
    assert serving.current is not None
    assert serving.current.version == name
    with Session(committed_engine) as s:
        active = versions.active(s)
        assert active is not None
        assert active.version == name
