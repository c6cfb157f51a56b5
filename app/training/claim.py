"""One training job at a time across processes: the claim in the store, its lease and heartbeat, and
the clean-up after jobs that were killed."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from app.clock import utcnow
from app.db import SessionFactory, StoreError
from app.ml import artifact
from app.store import versions

log = logging.getLogger("nbo.training")

LEASE_SECONDS = 30.0  # NBO_TRAINING_LEASE_SECONDS
CLAIM_POLL_SECONDS = 1.0

# Waits the given seconds; True when the waiting job is to stop instead (the service stops).
Pause = Callable[[float], bool]


def _sleep(seconds: float) -> bool:
    time.sleep(seconds)
    return False


def abandon_stale_trainings(
    factory: SessionFactory, timeout_seconds: float, models_dir: Path | None = None
) -> None:
    """Versions training for longer than the timeout were left by a process that stopped; the
    folders half-written by killed jobs go too."""
    try:
        with factory() as session:
            n = versions.fail_unfinished(
                session,
                created_before=utcnow() - timedelta(seconds=timeout_seconds),
                error="abandoned: still training long after it began; the process that ran it stopped",
            )
            session.commit()
    except StoreError:  # the store may be away at start; /readyz says so, and a later start retries
        log.exception("could not check for abandoned training jobs")
        return
    if n:
        log.warning("marked %d abandoned training job(s) failed", n)
    if models_dir is not None:
        clean_partial(factory, models_dir)


def clean_partial(factory: SessionFactory, models_dir: Path) -> None:
    """Remove what killed jobs left half-written, keeping the folders of jobs still training."""
    with factory() as session:
        keep = versions.training(session)
    removed = artifact.remove_partial(models_dir, keep)
    if removed:
        log.warning("removed %d partial version folder(s) left by killed jobs", len(removed))


def wait_for_turn(
    factory: SessionFactory,
    version: str,
    stopping: threading.Event | None = None,
    *,
    lease_seconds: float = LEASE_SECONDS,
    models_dir: Path | None = None,
    pause: Pause | None = None,
) -> bool:
    """Wait until ``version``'s job holds the one running-job claim; False when it is not to run
    (the service is stopping, or the version failed meanwhile). A claim its job stopped renewing
    is taken over. Between two looks it pauses CLAIM_POLL_SECONDS (``pause``: by default on
    ``stopping``, or asleep)."""
    if pause is None:
        pause = stopping.wait if stopping is not None else _sleep
    waiting = False
    while True:
        with factory() as session:
            lapsed = versions.take_over_lapsed(session, lease_seconds=lease_seconds)
            outcome = versions.claim(session, version=version)
            session.commit()
        if lapsed:
            log.warning("took over the training claim of %s, not renewed for %g s", lapsed, lease_seconds)
            if models_dir is not None:
                clean_partial(factory, models_dir)
        if outcome != "busy":
            return outcome == "claimed"
        if not waiting:
            log.info("version %s waits for the training job running elsewhere", version)
            waiting = True
        if pause(CLAIM_POLL_SECONDS):
            return False


class Heartbeat:
    """Renews a running job's claim every ``every`` seconds, from a thread of its own: a fit that
    holds the GIL for a while delays it, a killed process stops it."""

    def __init__(self, factory: SessionFactory, version: str, every: float) -> None:
        self.factory, self.version, self.every = factory, version, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"nbo-lease-{version}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                with self.factory() as session:
                    held = versions.renew(session, version=self.version)
                    session.commit()
            except StoreError:  # the store is away: try again; the lease says how long it may be
                log.warning("could not renew the training claim of %s", self.version)
                continue
            if not held:
                log.warning("version %s lost its training claim (taken over as lapsed)", self.version)
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
