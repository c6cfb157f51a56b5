"""Training as a job: store → time-split evaluation → fit → artifact → version row → activation gate."""

from __future__ import annotations

import hashlib
import logging
import shutil
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from app import store, versions
from app.columns import columns_for
from app.metrics import TRAINING_SECONDS, TRAININGS
from app.ml import artifact
from app.ml.baselines import in_order
from app.ml.config import TrainConfig
from app.ml.customers import CustomerSums
from app.ml.cycles import repurchase_cycles
from app.ml.dataset import Dataset, from_day, to_day
from app.ml.evaluate import Ranker, Split, evaluate, make_split
from app.ml.forecast import Forecast, fit_forecast
from app.ml.matrix import Lines
from app.ml.model import Model, fit
from app.ml.rank import popular_order, recommend
from app.schemas import utcnow
from app.serving import Serving

log = logging.getLogger("nbo.training")

LEASE_SECONDS = 30.0  # NBO_TRAINING_LEASE_SECONDS


def fingerprint(data: Dataset) -> str:
    """Identifies the training data: same purchases, same fingerprint."""
    h = hashlib.sha256()
    for ids in (data.customers.ids, data.products.ids):
        h.update("\x1f".join(ids).encode())
    for arr in (data.customer, data.product, data.quantity, data.spend, data.day):
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


def fit_on(lines: Lines, data: Dataset, config: TrainConfig, *, day: float, until_day: float) -> Model:
    """Fit on ``lines`` (ages counted back from ``day``, every line before ``until_day``)."""
    customers = CustomerSums.build(lines, data.customers.ids, config, day, until_day)
    cycles = repurchase_cycles(lines, len(data.products))
    return fit(customers, data.countries, data.products.ids, config, cycles)


def model_ranker(model: Model, data: Dataset) -> Ranker:
    """Offers exactly as served to each trained customer, without the live store."""

    def rank(customer: int, exclude: bool, k: int) -> list[int]:
        _, offers = recommend(
            model,
            model.customers.of(customer),
            k,
            exclude_purchased=exclude,
            country=data.countries[customer],
            explain_reasons=False,
        )
        return [o.product for o in offers]

    return rank


def popularity_ranker(model: Model, split: Split) -> Ranker:
    """The model's own popularity ranking, for everyone: the floor a version must clear."""
    return in_order(popular_order(model, None), split)


def gate_score(result: dict[str, dict[str, float]]) -> float:
    """One figure for comparing versions: the mean NDCG of the repeat and discovery tasks."""
    return float(np.mean([result["repeat"]["ndcg"], result["discovery"]["ndcg"]]))


def evaluate_config(data: Dataset, split: Split, config: TrainConfig) -> dict[str, dict[str, float]]:
    model = fit_on(split.train, data, config, day=split.cutoff_day, until_day=split.cutoff_day)
    return evaluate(split, model_ranker(model, data), k=config.eval_k)


def evaluated_customers(metrics: dict[str, Any]) -> int:
    """How many customers a version's evaluation scored (0: it had nothing to compare)."""
    evaluation = metrics.get("evaluation", {})
    return sum(int(r.get("customers", 0)) for r in evaluation.values() if isinstance(r, dict))


def train(
    data: Dataset,
    as_of: datetime,
    config: TrainConfig,
    active_config: TrainConfig | None,
    active_evaluated: int = 0,
    active_holds_erased: bool = False,
) -> tuple[Model, dict[str, Any], Forecast | None]:
    """Evaluate ``config`` on the window before ``as_of``, decide the gate, then fit on everything.

    ``active_evaluated`` is how many customers the active version's own evaluation scored: a
    candidate that scores none (an ``as_of`` before the data, a store of one purchase) never
    replaces a version that was measured. An active version trained on an erased customer is
    replaced by any candidate with purchases."""
    started = time.perf_counter()
    as_of_day = to_day(as_of)
    clock = data.clock(as_of_day)
    split = make_split(data, clock - config.eval_window_days, config.eval_window_days)
    candidate = fit_on(split.train, data, config, day=split.cutoff_day, until_day=split.cutoff_day)
    result = evaluate(split, model_ranker(candidate, data), k=config.eval_k)
    baseline = evaluate(split, popularity_ranker(candidate, split), k=config.eval_k)
    evaluated = sum(int(r["customers"]) for r in result.values())

    gate: dict[str, Any] = {"candidate_score": gate_score(result)}
    if len(data.customer) == 0:
        gate.update(passed=False, reason="no purchase before as_of: left inactive")
    elif active_config is None:
        gate.update(passed=True, reason="no active version")
    elif active_holds_erased:
        gate.update(passed=True, reason="the active version was trained on a customer erased since")
    elif evaluated == 0 and active_evaluated > 0:
        gate.update(
            passed=False,
            reason="no customer in the evaluation window, where the active version's had some: left inactive",
        )
    elif evaluated == 0:
        gate.update(passed=True, reason="no customer in this or the active evaluation: nothing to compare")
    elif active_config == config:
        gate.update(
            passed=True, active_score=gate_score(result), reason="same settings as the active version"
        )
    else:
        active_result = evaluate_config(data, split, active_config)
        gate["active_score"] = gate_score(active_result)
        gate["active_evaluation"] = active_result
        gate["passed"] = gate["candidate_score"] >= gate["active_score"]
        gate["reason"] = (
            "at least as good as the active version on the same evaluation"
            if gate["passed"]
            else "worse than the active version on the same evaluation: left inactive"
        )

    # Lines strictly before as_of, aged from the clock (the latest purchase before as_of).
    everything = data.lines(as_of_day).aged(clock - as_of_day)
    model = fit_on(everything, data, config, day=clock, until_day=as_of_day)
    # Purchase timing, as of the same clock (None while the store has too few buyers).
    forecast = fit_forecast(everything, len(data.customers))
    metrics = {
        "evaluation": {
            "cutoff": from_day(split.cutoff_day).isoformat() + "Z",
            "window_days": config.eval_window_days,
            "k": config.eval_k,
            **result,
        },
        "baseline_popular": baseline,
        "gate": gate,
        "lines": len(data.customer),
        "customers": len(data.customers),
        "products": len(data.products),
        "train_seconds": round(time.perf_counter() - started, 3),
    }
    return model, metrics, forecast


INTERRUPTED = "interrupted: the service stopped before training finished; train again"


def abandon_stale_trainings(
    factory: sessionmaker[Session], timeout_seconds: float, models_dir: Path | None = None
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
    except SQLAlchemyError:  # the store may be away at start; /readyz says so, and a later start retries
        log.exception("could not check for abandoned training jobs")
        return
    if n:
        log.warning("marked %d abandoned training job(s) failed", n)
    if models_dir is not None:
        clean_partial(factory, models_dir)


# How long a stopping service gives a running training job to finish with the store.
SHUTDOWN_WAIT_SECONDS = 5.0


class Trainer:
    """Runs training jobs one at a time in a background thread, outside any request (and, through
    the claim in the store, one at a time across processes: a job waits for its turn).

    At shutdown the jobs not finished (running or queued) are marked failed, and a running one that
    finishes afterwards does not record itself: a stopped service leaves no version training.
    """

    def __init__(
        self,
        factory: sessionmaker[Session],
        models_dir: Any,
        config: TrainConfig,
        serving: Serving | None = None,
        lease_seconds: float = LEASE_SECONDS,
    ) -> None:
        self.factory, self.models_dir, self.config = factory, models_dir, config
        self.lease_seconds = lease_seconds
        self.serving = serving  # the process's serving, which a version this job activates joins first
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nbo-train")
        self.stopping = threading.Event()
        self._pending: set[str] = set()
        self._futures: set[Future[None]] = set()
        self._lock = threading.Lock()

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
                stopping=self.stopping,
                serving=self.serving,
                lease_seconds=self.lease_seconds,
            )
        finally:
            with self._lock:
                self._pending.discard(version)

    def retrain(self) -> str | None:
        """Train a version on the store as it is now (after the jobs before it: it reads the store
        when its turn comes). Returns the version queued."""
        try:
            with self.factory() as session:
                row = versions.create(session, as_of=utcnow())
                session.commit()
        except SQLAlchemyError:  # what asked for it (an erasure) is done; the next training does this
            log.exception("could not start a training job")
            return None
        self.submit(row.version, row.as_of)
        return row.version

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


CLAIM_POLL_SECONDS = 1.0


def clean_partial(factory: sessionmaker[Session], models_dir: Path) -> None:
    """Remove what killed jobs left half-written, keeping the folders of jobs still training."""
    with factory() as session:
        keep = versions.training(session)
    removed = artifact.remove_partial(models_dir, keep)
    if removed:
        log.warning("removed %d partial version folder(s) left by killed jobs", len(removed))


def wait_for_turn(
    factory: sessionmaker[Session],
    version: str,
    stopping: threading.Event | None = None,
    *,
    lease_seconds: float = LEASE_SECONDS,
    models_dir: Path | None = None,
) -> bool:
    """Wait until ``version``'s job holds the one running-job claim; False when it is not to run
    (the service is stopping, or the version failed meanwhile). A claim its job stopped renewing
    is taken over."""
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
        if stopping is not None and stopping.wait(CLAIM_POLL_SECONDS):
            return False
        if stopping is None:
            time.sleep(CLAIM_POLL_SECONDS)


def run_job(
    factory: sessionmaker[Session],
    models_dir: Any,
    config: TrainConfig,
    version: str,
    as_of: datetime,
    stopping: threading.Event | None = None,
    serving: Serving | None = None,
    lease_seconds: float = LEASE_SECONDS,
) -> None:
    """Train ``version`` (already recorded as training) and record the outcome; never raises. Once
    ``stopping`` is set the outcome is not recorded (the version was marked failed at shutdown)."""
    try:
        if not wait_for_turn(factory, version, stopping, lease_seconds=lease_seconds, models_dir=models_dir):
            return
    except SQLAlchemyError:  # the store is away: the version is failed as abandoned at a later start
        log.exception("training %s could not start", version)
        return
    started = time.perf_counter()
    heartbeat = Heartbeat(factory, version, lease_seconds / 3)
    heartbeat.start()
    try:
        read_at = utcnow()  # an erasure finished after this may have been read in
        with factory() as session:
            data = columns_for(session).dataset(session, before=as_of)
            current = versions.active(session)
            active_config = TrainConfig.from_dict(current.metrics.get("config", {})) if current else None
            active_evaluated = evaluated_customers(current.metrics or {}) if current else 0
            active_holds = bool(current.holds_erased) if current else False
        model, metrics, forecast = train(data, as_of, config, active_config, active_evaluated, active_holds)
        metrics["config"] = config.to_dict()
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
        with factory() as session:
            store.hold_writes(session)  # an erasure running now finishes first, or waits for this
            if store.erased_since(session, data.customers.ids, read_at):
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
                if serving is not None:  # served here before anyone reads it is active
                    with serving.serving_first(version):
                        session.commit()
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


class Heartbeat:
    """Renews a running job's claim every ``every`` seconds, from a thread of its own: a fit that
    holds the GIL for a while delays it, a killed process stops it."""

    def __init__(self, factory: sessionmaker[Session], version: str, every: float) -> None:
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
            except SQLAlchemyError:  # the store is away: try again; the lease says how long it may be
                log.warning("could not renew the training claim of %s", self.version)
                continue
            if not held:
                log.warning("version %s lost its training claim (taken over as lapsed)", self.version)
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
