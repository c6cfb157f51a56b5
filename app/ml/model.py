"""The fitted model: item factors, co-purchase neighbours and popularity, all plain arrays."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from app.ml.config import TrainConfig
from app.ml.matrix import Lines, confidence_matrix

log = logging.getLogger("nbo.ml")

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]


@dataclass
class Model:
    """Everything ranking needs about products; customers are folded in from their history."""

    config: TrainConfig
    product_ids: list[str]
    item_factors: F32 | None  # products × factors (None for item_knn)
    gram: F32 | None  # YᵀY + λI, for folding a customer in
    neighbours: sp.csr_matrix  # products × products co-purchase similarity (top-K per row)
    popularity: npt.NDArray[np.float64]  # distinct recent buyers per product
    country_popular: dict[str, I64] = field(default_factory=dict)  # country -> product codes, best first
    product_index: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        self.product_index = {p: i for i, p in enumerate(self.product_ids)}

    @property
    def n_products(self) -> int:
        return len(self.product_ids)


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


def fit_neighbours(conf: sp.csr_matrix, k: int) -> sp.csr_matrix:
    from implicit.nearest_neighbours import ItemItemRecommender, bm25_weight

    # What implicit's BM25Recommender does, handing it CSR so that it need not convert.
    weighted = bm25_weight(conf.T, K1=1.2, B=0.75).T.tocsr()
    knn = ItemItemRecommender(K=k)
    knn.fit(weighted, show_progress=False)
    sim: sp.csr_matrix = knn.similarity.tocsr().astype(np.float32)
    sim.setdiag(0.0)  # a product is not its own complement
    sim.eliminate_zeros()
    return sim


def popularity(lines: Lines, n_products: int, days: float) -> npt.NDArray[np.float64]:
    """Distinct buyers per product over the last ``days`` (all history when that window is empty)."""
    recent = lines.take((lines.age_days <= days) & (lines.quantity > 0))
    if len(recent) == 0:
        recent = lines.take(lines.quantity > 0)
    pairs = np.unique(np.stack([recent.customer, recent.product], axis=1), axis=0)
    return np.bincount(pairs[:, 1], minlength=n_products).astype(np.float64)


def country_rankings(
    lines: Lines, countries: list[str | None], pop: npt.NDArray[np.float64], days: float, top: int = 200
) -> dict[str, I64]:
    """Per country, its own most popular products (distinct recent buyers), best first."""
    by_country: dict[str, I64] = {}
    country_of = np.array([c or "" for c in countries], dtype=object)
    recent = lines.take((lines.age_days <= days) & (lines.quantity > 0))
    for country in sorted({c for c in countries if c}):
        sub = recent.take(country_of[recent.customer] == country)
        if len(sub) == 0:
            continue
        pairs = np.unique(np.stack([sub.customer, sub.product], axis=1), axis=0)
        counts = np.bincount(pairs[:, 1], minlength=len(pop)).astype(np.float64)
        order = np.lexsort((-pop, -counts))  # ties broken by global popularity
        order = order[counts[order] > 0][:top]
        by_country[country] = order.astype(np.int64)
    return by_country


def fit(
    lines: Lines,
    customer_countries: list[str | None],
    product_ids: list[str],
    config: TrainConfig,
) -> Model:
    """Fit on lines whose ``age_days`` count back from the training time."""
    n_customers, n_products = len(customer_countries), len(product_ids)
    conf = confidence_matrix(lines, n_customers, n_products, config)
    factors = fit_factors(conf, config)
    gram = None
    if factors is not None:
        gram = (factors.T @ factors + config.regularization * np.eye(factors.shape[1])).astype(np.float32)
    pop = popularity(lines, n_products, config.popularity_days)
    return Model(
        config=config,
        product_ids=product_ids,
        item_factors=factors,
        gram=gram,
        neighbours=fit_neighbours(conf, config.neighbours),
        popularity=pop,
        country_popular=country_rankings(lines, customer_countries, pop, config.popularity_days),
    )
