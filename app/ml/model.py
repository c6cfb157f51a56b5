"""The fitted model: item factors, co-purchase neighbours and popularity, all plain arrays."""

from __future__ import annotations

import dataclasses
import logging
import threading
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from app.ml.config import TrainConfig
from app.ml.customers import CustomerSums
from app.ml.lines import Sums, confidence_matrix
from app.ml.neighbours import OnDemand, fit_neighbours, needed_in_training, ordered_row

log = logging.getLogger("nbo.ml")

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass
class Model:
    """Everything ranking needs about products; customers are folded in from their history."""

    config: TrainConfig
    product_ids: list[str]
    item_factors: F32 | None  # products × factors (None for item_knn)
    gram: F32 | None  # YᵀY + λI, for folding a customer in
    neighbours: sp.csr_matrix  # products × products co-purchase similarity (top-K per row; empty
    # when ranking does not use it: see app/ml/neighbours.py)
    popularity: F64  # distinct recent buyers per product
    customers: CustomerSums  # the trained customers' sums
    country_popular: dict[str, I64] = field(default_factory=dict)  # country -> product codes, best first
    cycles: F64 | None = None  # days between a customer's orders of each product (NaN: unknown)
    # Derived once at load, used by every request.
    product_index: dict[str, int] = field(init=False)
    popular_rank: I64 = field(init=False)  # product codes, most popular first
    popular_part: F32 = field(init=False)  # popularity scaled to [0, popular_weight]
    unit_factors: F32 | None = field(init=False)  # item factors scaled to unit length (explanations)
    # The neighbours as products × K arrays (padded with weight 0): gathering a customer's rows is
    # then one fancy index instead of a dozen array operations.
    neighbour_ids: npt.NDArray[np.int32] = field(init=False)
    neighbour_weights: F32 = field(init=False)
    _on_demand: OnDemand | None = field(init=False, default=None)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.product_index = {p: i for i, p in enumerate(self.product_ids)}
        self.popular_rank = np.argsort(-self.popularity, kind="stable").astype(np.int64)
        top = float(self.popularity.max()) if len(self.popularity) else 0.0
        weight = self.config.popular_weight / top if top > 0 else 0.0
        self.popular_part = (self.popularity * weight).astype(np.float32)
        self.neighbour_ids, self.neighbour_weights = padded_rows(self.neighbours)
        self.unit_factors = None
        if self.item_factors is not None:
            norms = np.maximum(np.linalg.norm(self.item_factors, axis=1, keepdims=True), 1e-9)
            self.unit_factors = (self.item_factors / norms).astype(np.float32)

    @property
    def n_products(self) -> int:
        return len(self.product_ids)

    def confidence(self) -> sp.csr_matrix:
        """The trained customers × products confidence matrix, as fitted."""
        return confidence_matrix(self.customers.sums, len(self.customers.ids), self.n_products, self.config)

    def co_purchased(self, code: int) -> tuple[I64, F32]:
        """The product's co-purchase neighbours (codes, similarity), most similar first."""
        if needed_in_training(self.config):
            return ordered_row(self.neighbours, code)
        return self.prepare_co_purchase().row(code)

    def prepare_co_purchase(self) -> OnDemand:
        """What computes neighbours when asked, built once (serving builds it when it loads a
        version, so that the first /similar request does not pay for it)."""
        with self._lock:
            if self._on_demand is None:
                self._on_demand = OnDemand(self.confidence(), self.config.neighbours)
            return self._on_demand


def with_neighbours(model: Model) -> Model:
    """The model with every product's neighbours fitted (for trying blends that weigh them)."""
    if needed_in_training(model.config):
        return model
    return dataclasses.replace(model, neighbours=fit_neighbours(model.confidence(), model.config.neighbours))


def padded_rows(m: sp.csr_matrix) -> tuple[npt.NDArray[np.int32], F32]:
    """The rows of ``m`` as two dense arrays (column ids, values), padded with zeros to the longest."""
    lengths = np.diff(m.indptr)
    width = int(lengths.max()) if len(lengths) else 0
    ids = np.zeros((m.shape[0], width), dtype=np.int32)
    values = np.zeros((m.shape[0], width), dtype=np.float32)
    rows = np.repeat(np.arange(m.shape[0]), lengths)
    slots = np.arange(m.nnz) - m.indptr[rows]
    ids[rows, slots] = m.indices
    values[rows, slots] = m.data
    return ids, values


def fit_factors(conf: sp.csr_matrix, config: TrainConfig) -> F32 | None:
    """Item factors from ``implicit``; the customers' factors are recomputed at ranking time."""
    if config.algorithm == "item_knn" or conf.nnz == 0:
        return None
    from implicit.cpu.als import AlternatingLeastSquares
    from implicit.cpu.bpr import BayesianPersonalizedRanking

    # implicit warns, and runs slower, when BLAS also spawns threads (it checks on construction).
    with threadpool_limits(1, "blas"):
        algo = (
            AlternatingLeastSquares(
                factors=config.factors,
                regularization=config.regularization,
                iterations=config.iterations,
                random_state=config.random_state,
                calculate_training_loss=False,
            )
            if config.algorithm == "als"
            else BayesianPersonalizedRanking(
                factors=config.factors,
                learning_rate=config.learning_rate,
                regularization=config.regularization,
                iterations=config.iterations,
                random_state=config.random_state,
            )
        )
        algo.fit(conf, show_progress=False)
    return np.ascontiguousarray(algo.item_factors, dtype=np.float32)


def _recent_buyers(s: Sums, days: float) -> Sums:
    """Pairs whose latest order is within ``days`` (every bought pair when that window is empty)."""
    recent = s.take(s.last_age <= days)
    return recent if len(recent) else s.take(s.orders > 0)


def popularity(s: Sums, n_products: int, days: float) -> F64:
    """Distinct buyers per product over the last ``days``."""
    return np.bincount(_recent_buyers(s, days).product, minlength=n_products).astype(np.float64)


def country_rankings(
    s: Sums, countries: list[str | None], pop: F64, days: float, top: int = 200
) -> dict[str, I64]:
    """Per country, its own most popular products (distinct recent buyers), best first."""
    names = sorted({c for c in countries if c})
    if not names:
        return {}
    code_of = {name: i for i, name in enumerate(names)}
    country = np.array([code_of.get(c or "", -1) for c in countries], dtype=np.int64)
    recent = s.take(s.last_age <= days)
    where = country[recent.customer] if len(recent) else np.zeros(0, dtype=np.int64)
    known = where >= 0
    n = len(pop)
    counts = np.bincount(where[known] * n + recent.product[known], minlength=len(names) * n)
    by_country: dict[str, I64] = {}
    for i, name in enumerate(names):
        row = counts[i * n : (i + 1) * n]
        if not row.any():
            continue
        order = np.lexsort((-pop, -row))  # ties broken by overall popularity
        by_country[name] = order[row[order] > 0][:top].astype(np.int64)
    return by_country


def fit(
    customers: CustomerSums,
    countries: list[str | None],
    product_ids: list[str],
    config: TrainConfig,
    cycles: F64 | None = None,
) -> Model:
    """Fit on the customers' sums (``countries`` per customer code)."""
    n_customers, n_products = len(customers.ids), len(product_ids)
    conf = confidence_matrix(customers.sums, n_customers, n_products, config)
    factors = fit_factors(conf, config)
    gram = None
    if factors is not None:
        gram = (factors.T @ factors + config.regularization * np.eye(factors.shape[1])).astype(np.float32)
    pop = popularity(customers.sums, n_products, config.popularity_days)
    return Model(
        config=config,
        product_ids=product_ids,
        item_factors=factors,
        gram=gram,
        neighbours=(
            fit_neighbours(conf, config.neighbours)
            if needed_in_training(config)
            else sp.csr_matrix((n_products, n_products), dtype=np.float32)
        ),
        popularity=pop,
        customers=customers,
        country_popular=country_rankings(customers.sums, countries, pop, config.popularity_days),
        cycles=cycles,
    )
