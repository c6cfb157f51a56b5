"""Co-purchase neighbours: products bought by the same customers (BM25-weighted item-to-item
similarity over the confidence matrix, as ``implicit``'s BM25 recommender computes it).

Ranking with them (the item_knn algorithm, or a blend that weighs co-purchase) needs every product's
row, so they are fitted with the version by ``implicit``'s all-pairs kNN. Otherwise only
``/similar`` asks for them, one product at a time: a row is then computed when first asked (one
sparse product, under a millisecond on Online Retail) and kept, which spares training the all-pairs
pass, a fifth of its time.
"""

from __future__ import annotations

import threading
from collections.abc import Collection

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from app.ml.config import TrainConfig

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]
K1, B = 1.2, 0.75


def needed_in_training(config: TrainConfig) -> bool:
    """Whether ranking uses every product's neighbours (else they are computed when asked)."""
    return config.algorithm == "item_knn" or config.knn_weight > 0  # see rank.co_purchase_weight


def bm25(conf: sp.csr_matrix) -> sp.csr_matrix:
    """Customers × products, BM25-weighted per product (its customers as the document's terms)."""
    from implicit.nearest_neighbours import bm25_weight

    if conf.nnz == 0:  # no purchase (a store before its first): nothing to weigh, and log(0) below
        return sp.csr_matrix(conf.shape, dtype=np.float64)
    return bm25_weight(conf.T, K1=K1, B=B).T.tocsr()


def fit_neighbours(conf: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Every product's ``k`` nearest (itself counted, then left out: a product is not its own
    complement), products × products."""
    from implicit.nearest_neighbours import ItemItemRecommender

    knn = ItemItemRecommender(K=k)
    knn.fit(bm25(conf), show_progress=False)
    sim: sp.csr_matrix = knn.similarity.tocsr().astype(np.float32)
    sim.setdiag(0.0)
    sim.eliminate_zeros()
    return sim


def ordered_row(m: sp.csr_matrix, code: int) -> tuple[I64, F32]:
    """Row ``code`` of a neighbours matrix: (product codes, similarity), most similar first."""
    start, end = m.indptr[code], m.indptr[code + 1]
    order = np.argsort(-m.data[start:end], kind="stable")
    return m.indices[start:end][order].astype(np.int64), m.data[start:end][order].astype(np.float32)


class OnDemand:
    """The rows ``fit_neighbours`` would give, one product at a time, each computed once."""

    def __init__(self, conf: sp.csr_matrix, k: int) -> None:
        self.by_customer = bm25(conf)  # customers × products
        self.by_product = self.by_customer.T.tocsr()
        self.k = k
        self._rows: dict[int, tuple[I64, F32]] = {}
        self._lock = threading.Lock()

    def row(self, code: int) -> tuple[I64, F32]:
        with self._lock:
            if code in self._rows:
                return self._rows[code]
        p = self.by_product
        customers = p.indices[p.indptr[code] : p.indptr[code + 1]]
        weights = p.data[p.indptr[code] : p.indptr[code + 1]]
        sim = np.asarray(self.by_customer[customers].T @ weights).ravel()
        k = min(self.k, len(sim))
        top = np.argpartition(-sim, k - 1)[:k] if k else np.zeros(0, dtype=np.int64)
        top = top[(sim[top] > 0) & (top != code)]
        top = top[np.argsort(-sim[top], kind="stable")]
        found = (top.astype(np.int64), sim[top].astype(np.float32))
        with self._lock:
            self._rows[code] = found
        return found


def without_customers(conf: sp.csr_matrix, rows: Collection[int], k: int) -> OnDemand:
    """Neighbours as ``OnDemand`` gives them, from ``conf`` with the customers of ``rows`` taken out:
    the co-purchases of a version as if it had been trained without them (erased customers)."""
    keep = np.ones(conf.shape[0], dtype=np.float32)
    keep[list(rows)] = 0.0
    pruned = sp.csr_matrix(sp.diags(keep) @ conf)
    pruned.eliminate_zeros()
    return OnDemand(pruned, k)
