"""Training as a job: store → time-split evaluation → fit → artifact → version row → activation gate.

Runs in a background thread (``Trainer``) or in the calling process (``nbo train``), never inside a
request; the steps themselves are app/training/pipeline.py.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from pathlib import Path

from app.clock import utcnow
from app.db import SessionFactory, StoreError
from app.metrics import TRAINING_SECONDS, TRAININGS
from app.ml import artifact
from app.ml.config import TrainConfig
from app.store import erasure, versions
from app.store.purchase_cache import PurchaseCache
from app.training.claim import LEASE_SECONDS, Heartbeat, Pause, wait_for_turn
from app.training.pipeline import evaluated_customers, fingerprint, train

log = logging.getLogger("nbo.training")

# How a process serves a version before it is recorded active (app/serving/loaded.py): a context
# manager given the version, entered around the commit that activates it.
# How a version is served here first: loads it, then holds the swap while the caller records it,
# which calls what it is given to serve it (app/serving/loaded.py's Serving.serving_first).
ServeFirst = Callable[[str], AbstractContextManager[Callable[[], None]]]

INTERRUPTED = "interrupted: the service stopped before training finished; train again"

SHUTDOWN_WAIT_SECONDS = 5.0


def _serve_nothing() -> None:
    """Where no process serves what it trains (``nbo train``): the others follow on their poll."""


class Trainer:
    """Runs training jobs one at a time in a background thread, outside any request (and, through
    the claim in the store, one at a time across processes: a job waits for its turn).

    At shutdown the jobs not finished (running or queued) are marked failed, and a running one that
    finishes afterwards does not record itself: a stopped service leaves no version training.
    """

    def __init__(
        self,
        factory: SessionFactory,
        models_dir: Path,
        config: TrainConfig,
        purchases: PurchaseCache,
        serve_first: ServeFirst | None = None,
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        self.factory, self.models_dir, self.config = factory, models_dir, config
        self.purchases = purchases  # the process's copy of the purchases, which a job brings up to date
        self.lease_seconds = lease_seconds
        self.serve_first = serve_first  # how a version this job activates is served here first
        self.pause: Pause | None = None  # how a job waiting for its turn waits (default: on stopping)
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nbo-train")
        self.stopping = threading.Event()
        self._pending: set[str] = set()
        self._futures: set[Future[None]] = set()
        self._lock = threading.Lock()

    def start(self, as_of: datetime) -> str:
        """Record a version training on the store as of ``as_of`` and queue its job; returns it."""
        with self.factory() as session:
            row = versions.create(session, as_of=as_of)
            session.commit()
        self.submit(row.version, row.as_of)
        return row.version

    def submit(self, version: str, as_of: datetime) -> Future[None]:
        with self._lock:
            self._pending.add(version)
        future = self.pool.submit(self._run, version, as_of)
        with self._lock:
            self._futures.add(future)
        future.add_done_callback(self._futures.discard)
        return future

    def _run(self, version: str, as_of: datetime) -> None:
        try:
            run_job(
                self.factory,
                self.models_dir,
                self.config,
                version,
                as_of,
                purchases=self.purchases,
                stopping=self.stopping,
                serve_first=self.serve_first,
                lease_seconds=self.lease_seconds,
                pause=self.pause,
            )
        finally:
            with self._lock:
                self._pending.discard(version)

    def retrain(self) -> str | None:
        """Train a version on the store as it is now (after the jobs before it: it reads the store
        when its turn comes). Returns the version queued."""
        try:
            return self.start(utcnow())
        except StoreError:  # what asked for it (an erasure) is done; the next training does this
            log.exception("could not start a training job")
            return None

    def shutdown(self, wait_seconds: float = SHUTDOWN_WAIT_SECONDS) -> None:
        """Mark what is unfinished failed, then give the running job ``wait_seconds`` to stop, so
        that it is done with the store before the caller closes its connections; a fit that takes
        longer is left to the process's exit (it records nothing)."""
        self.stopping.set()
        self.pool.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            unfinished = sorted(self._pending)
            running = set(self._futures)
        if unfinished:
            with self.factory() as session:
                versions.fail_unfinished(session, names=unfinished, error=INTERRUPTED)
                session.commit()
            log.warning("stopped with versions unfinished, marked failed: %s", ", ".join(unfinished))
        if running and wait(running, timeout=wait_seconds).not_done:
            log.warning("a training job still runs after %g s; it records nothing", wait_seconds)


def run_job(
    factory: SessionFactory,
    models_dir: Path,
    config: TrainConfig,
    version: str,
    as_of: datetime,
    *,
    purchases: PurchaseCache,
    stopping: threading.Event | None = None,
    serve_first: ServeFirst | None = None,
    lease_seconds: float = LEASE_SECONDS,
    pause: Pause | None = None,
) -> None:
    """Train ``version`` (already recorded as training) and record the outcome; never raises. Once
    ``stopping`` is set the outcome is not recorded (the version was marked failed at shutdown)."""
    try:
        if not wait_for_turn(
            factory, version, stopping, lease_seconds=lease_seconds, models_dir=models_dir, pause=pause
        ):
            return
    except StoreError:  # the store is away: the version is failed as abandoned at a later start
        log.exception("training %s could not start", version)
        return
    started = time.perf_counter()
    heartbeat = Heartbeat(factory, version, lease_seconds / 3)
    heartbeat.start()
    try:
        read_at = utcnow()  # an erasure finished after this may have been read in
        with factory() as session:
            data = purchases.dataset(session, before=as_of)
            current = versions.active(session)
            active_config = TrainConfig.from_dict(current.metrics.get("config", {})) if current else None
            active_evaluated = evaluated_customers(current.metrics or {}) if current else 0
            active_holds = bool(current.holds_erased) if current else False
        model, metrics, forecast = train(data, as_of, config, active_config, active_evaluated, active_holds)
        metrics["config"] = model.config.to_dict()  # with the blend it chose
        metrics["fingerprint"] = fingerprint(data)
        meta = {
            "version": version,
            "as_of": as_of.isoformat(),
            "metrics": metrics,
            "forecast": forecast.to_dict() if forecast is not None else None,
        }
        if stopping is not None and stopping.is_set():
            log.warning("version %s trained after shutdown began: not recorded", version)
            return
        metrics["checksum"] = artifact.save(model, models_dir / version, meta)
        retired: list[str] = []
        # The swap is held before the store's locks, never the other way round (see serving_first).
        swap: AbstractContextManager[Callable[[], None]] = nullcontext(_serve_nothing)
        if serve_first is not None and metrics["gate"]["passed"]:
            swap = serve_first(version)
        with swap as serve, factory() as session:
            # An erasure running now finishes first, or waits for this.
            if erasure.hold_writes(session, data.customers.ids, read_at):
                # The erasure's own retrain follows this job; this version never serves.
                recorded = versions.finish(
                    session, version=version, status="retired", metrics=metrics, error=versions.ERASED
                )
                session.commit()
                shutil.rmtree(models_dir / version, ignore_errors=True)
                log.warning("version %s read a customer erased while it trained: retired", version)
                return
            recorded = versions.finish(session, version=version, status="ready", metrics=metrics)
            if recorded and metrics["gate"]["passed"]:
                retired = versions.activate(session, version=version)
                serve()  # served here before anyone reads it is active
            session.commit()
        artifact.remove(models_dir, retired)
        if not recorded:  # failed meanwhile (shutdown, or abandoned by a later start): keep it failed
            shutil.rmtree(models_dir / version, ignore_errors=True)
            log.warning("version %s was marked failed while it trained: not recorded", version)
            return
        log.info("version %s ready (gate: %s)", version, metrics["gate"]["reason"])
        TRAININGS.labels("activated" if metrics["gate"]["passed"] else "kept_inactive").inc()
    except Exception as exc:
        TRAININGS.labels("failed").inc()
        log.exception("training %s failed", version)
        with factory() as session:
            versions.finish(
                session, version=version, status="failed", metrics={}, error=f"{type(exc).__name__}: {exc}"
            )
            session.commit()
    finally:
        heartbeat.stop()
        TRAINING_SECONDS.observe(time.perf_counter() - started)
