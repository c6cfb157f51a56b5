"""The model a process serves, kept in step with the active pointer in the store.

A background thread polls the active version; a new one is loaded and verified off the request
path, then swapped in by one reference assignment. A request takes the reference once, so requests
in flight finish on the version they started with. A version that fails verification is refused and
the one loaded keeps serving.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app import metrics, versions
from app.ml import artifact
from app.ml.config import TrainConfig
from app.ml.customers import CustomerSums
from app.ml.dataset import to_day
from app.ml.forecast import Forecast
from app.ml.ids import IdMap
from app.ml.matrix import EMPTY
from app.ml.model import Model
from app.ml.neighbours import needed_in_training
from app.tables import Purchase

log = logging.getLogger("nbo.serving")

FALLBACK_SIZE = 500


@dataclass(frozen=True)
class Loaded:
    version: str | None  # None: no trained version yet, store popularity only
    model: Model
    loaded_at: float
    forecast: Forecast | None = None  # the customers' purchase timing, fitted with the version
    trained_at: float | None = None  # when the version finished training (epoch seconds)
    begun_day: float = float("inf")  # when the version began training, in days: it knows no one seen later


def popularity_model(session: Session) -> Model:
    """Before any version is trained: the products most customers bought, straight from the store."""
    rows = session.execute(
        select(Purchase.product_id, func.count(func.distinct(Purchase.customer_id)).label("buyers"))
        .where(Purchase.quantity > 0)
        .group_by(Purchase.product_id)
        .order_by(func.count(func.distinct(Purchase.customer_id)).desc(), Purchase.product_id)
        .limit(FALLBACK_SIZE)
    ).all()
    ids = [r[0] for r in rows]
    return Model(
        config=TrainConfig(algorithm="item_knn"),
        product_ids=ids,
        item_factors=None,
        gram=None,
        neighbours=sp.csr_matrix((len(ids), len(ids)), dtype=np.float32),
        popularity=np.array([float(r[1]) for r in rows]),
        # No trained customer: every request reads the customer's whole history.
        customers=CustomerSums(IdMap([]), EMPTY, 0.0, 0.0),
    )


class Serving:
    def __init__(self, factory: sessionmaker[Session], models_dir: Path, poll_seconds: float) -> None:
        self.factory, self.models_dir, self.poll_seconds = factory, models_dir, poll_seconds
        self.current: Loaded | None = None
        self.refused: dict[str, str] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._reported: str | None = None

    def describe(self) -> str:
        current = self.current
        if current is None:
            return "none"
        return current.version or "popularity-fallback"

    def sync(self) -> None:
        """Load the active version if it is not the one served (or the fallback if none is active)."""
        with self._lock:
            with self.factory() as session:
                active = versions.active(session)
                wanted = active.version if active is not None else None
                finished = active.finished_at if active is not None else None
                begun = to_day(active.created_at) if active is not None else float("inf")
                current = self.current
                if current is not None and current.version == wanted:
                    return
                if wanted is None:
                    if current is None or time.monotonic() - current.loaded_at > 60:
                        self.current = Loaded(None, popularity_model(session), time.monotonic())
                    return
            if wanted in self.refused:
                return
            try:
                model, meta = artifact.load(self.models_dir / wanted)
            except artifact.ArtifactError as exc:
                self.refused[wanted] = str(exc)
                log.error("refusing version %s, still serving %s: %s", wanted, self.describe(), exc)
                if self.current is None:
                    with self.factory() as session:
                        self.current = Loaded(None, popularity_model(session), time.monotonic())
                return
            if not needed_in_training(model.config):
                model.prepare_co_purchase()  # here, not on the first /similar request
            forecast = Forecast.from_dict(meta["forecast"]) if meta.get("forecast") else None
            trained_at = finished.replace(tzinfo=UTC).timestamp() if finished is not None else None
            self.current = Loaded(wanted, model, time.monotonic(), forecast, trained_at, begun)
            log.info("now serving version %s", wanted)

    def report(self) -> None:
        """Tell the metrics which version this process serves and how old it is."""
        current = self.current
        version = current.version if current is not None else None
        metrics.serving(version, self._reported, current.trained_at if current is not None else None)
        self._reported = version

    def start(self) -> None:
        self.sync()
        self.report()
        self._thread = threading.Thread(target=self._poll, name="nbo-model-poll", daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.sync()
            except Exception:  # the store may be away for a while; keep serving what is loaded
                log.exception("could not check the active version")
            self.report()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
