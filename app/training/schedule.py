"""Scheduled retraining: once the newest version is NBO_RETRAIN_EVERY_HOURS old, a version is
trained on the store as it is, so that offers and forecasts follow the purchases without anyone
asking. Every serving process checks; the check is repeated just before a job is queued, at a
moment jittered per process, so that the processes of one service rarely queue two."""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from app.clock import utcnow
from app.config import Settings
from app.db import SessionFactory, StoreError, make_engine, make_session_factory
from app.store import purchases, versions
from app.training.jobs import Trainer

log = logging.getLogger("nbo.training")

CHECK_SECONDS = 60.0


def next_retrain(newest_created_at: datetime | None, every_hours: float) -> datetime | None:
    """When the schedule trains next: None when it is off or nothing was trained yet (the first
    version is trained at start or on request)."""
    if every_hours <= 0 or newest_created_at is None:
        return None
    return newest_created_at + timedelta(hours=every_hours)


def due(factory: SessionFactory, every_hours: float, now: datetime, *, first: bool = False) -> bool:
    """True when the newest version is older than the schedule (or, with ``first``, when there is
    none yet), none is training, and the store has purchases to train on."""
    with factory() as session:
        newest = versions.newest_first(session, limit=1)
        if newest:
            at = next_retrain(newest[0].created_at, every_hours)
            if at is None or at > now:
                return False
        elif not first:
            return False
        return not versions.training(session) and purchases.has_purchases(session)


def keep_schedule(
    settings: Settings, train: Callable[[], object], stop: threading.Event | None = None
) -> None:
    """``nbo train --schedule``: train whenever one is due (the first when the store has purchases
    and no version yet), until ``stop`` is set."""
    if settings.retrain_every_hours <= 0:
        raise ValueError("NBO_RETRAIN_EVERY_HOURS is 0: there is no schedule to keep")
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    stop = stop or threading.Event()
    try:
        while not stop.is_set():
            try:
                if due(factory, settings.retrain_every_hours, utcnow(), first=True):
                    train()
            except StoreError:
                log.warning("scheduled retraining: the store did not answer; trying again later")
            stop.wait(CHECK_SECONDS)
    finally:
        engine.dispose()


class Schedule:
    """A daemon thread that queues a training on the trainer when one is due."""

    def __init__(self, factory: SessionFactory, trainer: Trainer, every_hours: float) -> None:
        self.factory, self.trainer, self.every_hours = factory, trainer, every_hours
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.every_hours <= 0:
            return
        self._thread = threading.Thread(target=self._run, name="nbo-retrain", daemon=True)
        self._thread.start()

    def check(self) -> str | None:
        """Queue a training when one is due; the version queued, if any."""
        try:
            if not due(self.factory, self.every_hours, utcnow()):
                return None
            # Another process of the service may be at the same point: wait a moment of our own,
            # then look again.
            if self.stopping.wait(random.uniform(0.0, 5.0)) or not due(
                self.factory, self.every_hours, utcnow()
            ):
                return None
        except StoreError:
            log.warning("scheduled retraining: the store did not answer; trying again later")
            return None
        version = self.trainer.retrain()
        if version is not None:
            log.info("scheduled retraining: queued %s", version)
        return version

    def _run(self) -> None:
        while not self.stopping.wait(CHECK_SECONDS * random.uniform(0.8, 1.2)):
            self.check()

    def stop(self) -> None:
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
