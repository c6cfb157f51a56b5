from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import scipy.sparse as sp

from app.ml.model import with_neighbours
from app.ml.neighbours import OnDemand, fit_neighbours, needed_in_training, ordered_row
from tests.ml.test_rank import SMALL, fit_lines, lines_from


def baskets(seed: int, customers: int = 300, products: int = 60) -> sp.csr_matrix:
    """A confidence-like matrix: each customer buys a few products around a favourite."""
    rng = np.random.default_rng(seed)
    rows, cols, vals = [], [], []
    for c in range(customers):
        centre = int(rng.integers(products))
        for p in set((centre + rng.integers(-4, 5, size=int(rng.integers(1, 9)))) % products):
            rows.append(c)
            cols.append(int(p))
            vals.append(1.0 + float(rng.exponential(3.0)))
    return sp.csr_matrix((vals, (rows, cols)), shape=(customers, products))


def test_rows_on_demand_are_the_fitted_rows() -> None:
    conf = baskets(seed=1)
    for k in (5, 20, 100):
        fitted = fit_neighbours(conf, k)
        on_demand = OnDemand(conf, k)
        for code in range(conf.shape[1]):
            want_ids, want = ordered_row(fitted, code)
            got_ids, got = on_demand.row(code)
            assert code not in got_ids.tolist()
            np.testing.assert_allclose(got, want, rtol=1e-5)
            # ties may come in another order; the sets of neighbours at each similarity agree
            assert set(got_ids.tolist()) == set(want_ids.tolist())
        assert on_demand.row(3) is on_demand.row(3)  # computed once


def test_training_fits_neighbours_only_when_ranking_weighs_them() -> None:
    order = itertools.count()
    rows = [(c, p, next(order), 1, 2.0, 10.0 + c) for c in range(12) for p in (c % 3, c % 3 + 3)]
    products = [f"p{i}" for i in range(6)]
    weighed = fit_lines(lines_from(rows), [None] * 12, products, SMALL)
    assert needed_in_training(SMALL)
    assert weighed.neighbours.nnz > 0
    plain = dataclasses.replace(SMALL, knn_weight=0.0)
    assert not needed_in_training(plain)
    assert needed_in_training(dataclasses.replace(plain, algorithm="item_knn"))
    lazy = fit_lines(lines_from(rows), [None] * 12, products, plain)
    assert lazy.neighbours.nnz == 0
    assert lazy.prepare_co_purchase() is lazy.prepare_co_purchase()
    for code in range(6):
        ids, sim = lazy.co_purchased(code)
        want_ids, want = weighed.co_purchased(code)
        assert ids.tolist() == want_ids.tolist()
        np.testing.assert_allclose(sim, want, rtol=1e-5)
    assert lazy.co_purchased(0)[0].tolist()[0] == 3  # bought with product 0 by the same customers
    # for trying blends that weigh co-purchase on the same fit (nbo tune)
    filled = with_neighbours(lazy)
    assert (filled.neighbours != weighed.neighbours).nnz == 0
    assert with_neighbours(weighed) is weighed


def test_a_store_without_purchases_has_no_neighbours() -> None:
    for shape in ((0, 0), (5, 0), (0, 4), (3, 2)):
        empty = sp.csr_matrix(shape, dtype=np.float32)
        assert fit_neighbours(empty, 10).nnz == 0  # and no warning: the suite turns them into errors
        for code in range(shape[1]):
            assert len(OnDemand(empty, 10).row(code)[0]) == 0
