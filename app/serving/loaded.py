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
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from app import metrics
from app.db import Session, SessionFactory
from app.ml import artifact
from app.ml.config import TrainConfig
from app.ml.customers import CustomerSums
from app.ml.dataset import to_day
from app.ml.forecast import Forecast
from app.ml.ids import IdMap
from app.ml.lines import EMPTY
from app.ml.model import Model
from app.ml.neighbours import OnDemand, needed_in_training
from app.serving.experiments import Running, Variant
from app.serving.policy import Policy
from app.serving.policy import load as load_policy
from app.serving.unlearn import unlearned
from app.store import experiments, versions
from app.store.purchases import Described, described_products, most_bought, purchases_mark
from app.store.tables import ModelVersion

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
    # The store's most bought products, best first: what fills an offers list the version leaves short
    # (a version trained on few products, or products first sold after it).
    fill: tuple[str, ...] = ()
    # Customers erased since the version began (their hashes), and its co-purchases without them
    # (app/serving/unlearn.py): what /similar answers from until a retrain replaces the version.
    forgotten: frozenset[str] = frozenset()
    unlearned: OnDemand | None = None


def popularity_model(popular: list[tuple[str, float]]) -> Model:
    """Before any version is trained: the store's popularity."""
    ids = [p for p, _ in popular]
    return Model(
        config=TrainConfig(algorithm="item_knn"),
        product_ids=ids,
        item_factors=None,
        gram=None,
        neighbours=sp.csr_matrix((len(ids), len(ids)), dtype=np.float32),
        popularity=np.array([b for _, b in popular]),
        # No trained customer: every request reads the customer's whole history.
        customers=CustomerSums(IdMap([]), EMPTY, 0.0, 0.0),
    )


VARIANT_VERSIONS = 2  # versions besides the active one that experiments may serve at once
FILL_REFRESH_SECONDS = 60.0  # under a trained version: the group-by reads every purchase


class Serving:
    def __init__(self, factory: SessionFactory, models_dir: Path, poll_seconds: float) -> None:
        self.factory, self.models_dir, self.poll_seconds = factory, models_dir, poll_seconds
        self.current: Loaded | None = None
        self.refused: dict[str, str] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._reported: str | None = None
        self._mark: tuple[int | None, int] | None = None  # the store as the fill last saw it
        self._filled_at = 0.0
        self.experiment: Running | None = None  # the experiment that runs, read at each poll
        self.policy = Policy()  # the contact policy, read at each poll (at once where it was stored)
        # What the catalogue says of each product (name, category, price), for the answers' words;
        # read with the fill (a minute late at most, at once in the process that stored it).
        self.catalog: dict[str, Described] = {}
        self._described_at = -float("inf")
        self._variants: OrderedDict[str, Loaded] = OrderedDict()  # versions experiments serve

    def refresh_catalog(self, force: bool = False) -> None:
        if not force and time.monotonic() - self._described_at < FILL_REFRESH_SECONDS:
            return
        with self.factory() as session:
            self.catalog = described_products(session)
        self._described_at = time.monotonic()

    def refresh_policy(self) -> None:
        with self.factory() as session:
            self.policy = load_policy(session)

    def refresh_experiment(self) -> None:
        with self.factory() as session:
            found = experiments.running(session)
        self.experiment = Running.of(*found) if found is not None else None

    def for_variant(self, loaded: Loaded, variant: Variant | None) -> Loaded:
        """The version an experiment's variant is served: its own when it names one that loads,
        else ``loaded`` (whose model_version then says so). May load from disk: call it off the
        event loop."""
        if variant is None or variant.model_version in (None, loaded.version):
            return loaded
        try:
            return self.version(str(variant.model_version))
        except artifact.ArtifactError:
            return loaded

    def version(self, version: str) -> Loaded:
        """``version`` loaded (an experiment's variant may serve one that is not active); the last
        few are kept. Raises ArtifactError."""
        current = self.current
        if current is not None and current.version == version:
            return current
        with self._lock:
            if version in self._variants:
                self._variants.move_to_end(version)
                return self._variants[version]
            loaded = self._load(version)
            self._variants[version] = loaded
            while len(self._variants) > VARIANT_VERSIONS:
                self._variants.popitem(last=False)
            return loaded

    def describe(self) -> str:
        current = self.current
        if current is None:
            return "none"
        return current.version or "popularity-fallback"

    def sync(self) -> None:
        """Load the active version if it is not the one served (or the fallback if none is active),
        and keep the store's popularity current."""
        with self._lock:
            with self.factory() as session:
                active = versions.active(session)
                wanted = active.version if active is not None else None
                current = self.current
                if wanted is None or (current is not None and current.version == wanted):
                    self._refresh_fill(session, trained=wanted is not None)
                    return
            if wanted in self.refused:
                return
            try:
                self.current = self._load(wanted, active)
            except artifact.ArtifactError as exc:
                self.refused[wanted] = str(exc)
                log.error("refusing version %s, still serving %s: %s", wanted, self.describe(), exc)
                if self.current is None:
                    with self.factory() as session:
                        self._refresh_fill(session, trained=False, force=True)
                return
            log.info("now serving version %s", wanted)

    def purchases_changed(self) -> None:
        """Purchases were stored by this process: before any version is trained, the popularity it
        serves follows at once (other processes on their next poll)."""
        current = self.current
        if current is not None and current.version is not None:
            return
        with self._lock, self.factory() as session:
            if self.current is None or self.current.version is None:
                self._refresh_fill(session, trained=False)

    def _refresh_fill(self, session: Session, *, trained: bool, force: bool = False) -> None:
        current = self.current
        due = not trained or time.monotonic() - self._filled_at > FILL_REFRESH_SECONDS
        if current is not None and not force and not due:
            return  # before the count, which scans the whole table
        mark = purchases_mark(session)
        if current is not None and not force and mark == self._mark:
            self._filled_at = time.monotonic()  # still right: the next count in a minute
            return
        popular = most_bought(session, FALLBACK_SIZE)
        self._mark, self._filled_at = mark, time.monotonic()
        fill = tuple(p for p, _ in popular)
        if current is not None and current.version is not None:
            self.current = replace(current, fill=fill)
        else:
            self.current = Loaded(None, popularity_model(popular), time.monotonic(), fill=fill)

    def _load(self, version: str, row: ModelVersion | None = None) -> Loaded:
        """Read and verify ``version`` from disk (raises ArtifactError)."""
        if row is None:
            with self.factory() as session:
                row = versions.get(session, version=version)
        model, meta = artifact.load(self.models_dir / version)
        if not needed_in_training(model.config):
            model.prepare_co_purchase()  # here, not on the first /similar request
        forecast = Forecast.from_dict(meta["forecast"]) if meta.get("forecast") else None
        finished = row.finished_at if row is not None else None
        trained_at = finished.replace(tzinfo=UTC).timestamp() if finished is not None else None
        begun = to_day(row.created_at) if row is not None else float("inf")
        current = self.current
        fill = current.fill if current is not None else ()
        loaded = Loaded(version, model, time.monotonic(), forecast, trained_at, begun, fill)
        with self.factory() as session:
            return unlearned(session, loaded)

    def follow_erasures(self) -> None:
        """Take the customers erased since the served version began out of what it answers."""
        with self._lock:
            current = self.current
            if current is None or current.version is None:
                return
            with self.factory() as session:
                self.current = unlearned(session, current)

    @contextmanager
    def serving_first(self, version: str) -> Iterator[Callable[[], None]]:
        """Load and verify ``version`` (raises ArtifactError), then hold the swap for the caller's
        block, which records the version active and calls the function it is given to serve it
        here before it commits: a process never reports a version active that it does not serve
        yet. Should the block fail after that, the version served before comes back.

        Enter it before taking any lock of the store (an erasure's, a version's row, SQLite's
        write lock): the poller and activations hold the swap while they use the store, so a
        block that held a store lock while it waited for the swap could wait for ever, and the
        writers queued behind that lock would take every pooled connection."""
        loaded = self._load(version)
        with self._lock:
            previous, swapped = self.current, False

            def serve() -> None:
                nonlocal swapped
                self.current, swapped = loaded, True
                self.refused.pop(version, None)

            try:
                yield serve
            except BaseException:
                if swapped:
                    self.current = previous
                raise
        if swapped:
            log.info("now serving version %s", version)

    def report(self) -> None:
        """Tell the metrics which version this process serves and how old it is."""
        current = self.current
        version = current.version if current is not None else None
        metrics.serving(version, self._reported, current.trained_at if current is not None else None)
        self._reported = version

    def start(self) -> None:
        self.sync()
        self.refresh_experiment()
        self.refresh_policy()
        self.refresh_catalog(force=True)
        self.report()
        self._thread = threading.Thread(target=self._poll, name="nbo-model-poll", daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.sync()
                self.follow_erasures()
                self.refresh_experiment()
                self.refresh_policy()
                self.refresh_catalog()
            except Exception:  # the store may be away for a while; keep serving what is loaded
                log.exception("could not check the active version")
            self.report()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
