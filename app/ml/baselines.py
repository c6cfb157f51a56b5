"""The standard alternatives nbo is measured against, on the same split and metrics.

Each is trained on the split's purchases (lines with a positive quantity) and answers like a ranker
of ``app.ml.evaluate``: the ``k`` product codes it would offer a customer.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from app.ml.evaluate import Ranker, Split

I64 = npt.NDArray[np.int64]


def _lines(split: Split, n_customers: int, n_products: int) -> sp.csr_matrix:
    """Customers × products: how many purchase lines the customer had of the product before the cutoff."""
    bought = split.train.quantity > 0
    m = sp.csr_matrix(
        (np.ones(int(bought.sum()), np.float32), (split.train.customer[bought], split.train.product[bought])),
        shape=(n_customers, n_products),
    )
    m.sum_duplicates()
    return m


def _binary(split: Split, n_customers: int, n_products: int) -> sp.csr_matrix:
    """Customers × products: 1 where the customer bought the product before the cutoff."""
    m = _lines(split, n_customers, n_products)
    m.data[:] = 1.0
    return m


def _distinct_buyers(split: Split, n_products: int) -> npt.NDArray[np.float64]:
    t = split.train
    bought = t.quantity > 0
    pairs = np.unique(t.customer[bought] * n_products + t.product[bought])
    return np.bincount(pairs % n_products, minlength=n_products).astype(np.float64)


def in_order(order: I64, split: Split) -> Ranker:
    """Everyone gets the same products, in ``order``, less those they bought when asked to."""

    def rank(customer: int, exclude: bool, k: int) -> list[int]:
        if not exclude:
            return [int(p) for p in order[:k]]
        bought = split.bought_before.get(customer, np.zeros(0, np.int64))
        return [int(p) for p in order[~np.isin(order, bought)][:k]]

    return rank


def popularity(split: Split, n_products: int) -> Ranker:
    """The products most customers bought (distinct buyers)."""
    return in_order(np.argsort(-_distinct_buyers(split, n_products), kind="stable"), split)


def own_most_bought(split: Split, n_customers: int, n_products: int) -> Ranker:
    """The customer's own products, by their number of purchase lines (ties: product id order)."""
    counts = _lines(split, n_customers, n_products)

    def rank(customer: int, exclude: bool, k: int) -> list[int]:
        if exclude:
            return []
        row = slice(counts.indptr[customer], counts.indptr[customer + 1])
        products, n = counts.indices[row], counts.data[row]
        return [int(p) for p in products[np.lexsort((products, -n))][:k]]

    return rank


def _implicit_ranker(model: Any, user_items: sp.csr_matrix) -> Ranker:
    def rank(customer: int, exclude: bool, k: int) -> list[int]:
        ids, _ = model.recommend(customer, user_items[customer], N=k, filter_already_liked_items=exclude)
        return [int(i) for i in ids]

    return rank


def als_defaults(split: Split, n_customers: int, n_products: int, random_state: int = 42) -> Ranker:
    """``implicit``'s ALS with its default parameters on the binary matrix."""
    from implicit.cpu.als import AlternatingLeastSquares

    user_items = _binary(split, n_customers, n_products)
    with threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(random_state=random_state)
        model.fit(user_items, show_progress=False)
    return _implicit_ranker(model, user_items)


def item_knn_bm25(split: Split, n_customers: int, n_products: int, k: int = 100) -> Ranker:
    """``implicit``'s item-to-item BM25 neighbours (K=100, K1=1.2, B=0.75) on the line counts."""
    from implicit.nearest_neighbours import ItemItemRecommender, bm25_weight

    user_items = _lines(split, n_customers, n_products)
    # What BM25Recommender.fit does, handing the neighbours CSR so that implicit need not convert.
    model = ItemItemRecommender(K=k)
    model.fit(bm25_weight(user_items.T, K1=1.2, B=0.75).T.tocsr(), show_progress=False)
    return _implicit_ranker(model, user_items)
