from __future__ import annotations

import dataclasses

import numpy as np

from app.ml.cycles import _sorted_pairs, due, repurchase_cycles
from app.ml.lines import sums
from app.ml.rank import recommend
from tests.ml.test_rank import SMALL, fit_lines, lines_from


def test_cycle_is_the_pooled_median_gap_between_a_customers_orders() -> None:
    rows = []
    order = 0
    # product 0: every 10 days for customers 0-2; product 1: every 30 days for customers 0-2
    for c in range(3):
        for k in range(4):
            rows.append((c, 0, order, 1, 1.0, 100.0 - 10 * k))
            order += 1
            rows.append((c, 1, order, 1, 1.0, 100.0 - 30 * k))
            order += 1
    rows.append((3, 2, order, 1, 1.0, 5.0))  # product 2: bought once
    rows.append((3, 0, order, 1, 1.0, 5.0))  # the same order again: not a repurchase of product 0
    cycles = repurchase_cycles(lines_from(rows), 4)
    assert cycles[0] == 10.0
    assert cycles[1] == 30.0
    assert cycles[2] == 20.0  # never bought twice: the median gap over all products
    assert np.isnan(cycles[3])  # never bought


def test_due_rises_to_the_cycle_then_eases_off() -> None:
    values = due(np.array([0.0, 5.0, 10.0, 30.0, 5.0]), np.array([10.0, 10.0, 10.0, 10.0, np.nan]))
    assert values[0] == 0.0
    assert values[1] == 0.5
    assert values[2] == 1.0
    assert 0.0 < values[3] < 1.0
    assert values[4] == 0.0  # unknown cycle: no claim


def test_a_due_refill_outranks_one_just_bought() -> None:
    # Customer 0 buys products 0 and 1 every 20 days, alike; product 0 was bought 20 days ago,
    # product 1 two days ago. Others make the cycles known.
    rows = [(0, 0, k, 1, 1.0, 20.0 + 20 * k) for k in range(4)]
    rows += [(0, 1, 10 + k, 1, 1.0, 2.0 + 20 * k) for k in range(4)]
    rows += [
        (c, p, 100 + 10 * c + 2 * k + p, 1, 1.0, 30.0 + 20 * k)
        for c in (1, 2)
        for p in (0, 1)
        for k in range(3)
    ]
    lines = lines_from(rows)
    config = dataclasses.replace(SMALL, due_weight=1.0, repeat_weight=0.0, cf_weight=0.0, knn_weight=0.0)
    model = fit_lines(lines, [None] * 3, ["a", "b"], config)
    _, offers = recommend(model, model.customers.of(0), 2)
    assert [o.product for o in offers] == [0, 1]
    assert offers[0].reason == "refill_due"
    assert offers[0].because == [0]
    assert sums(lines.take(lines.customer == 0), config).last_age.tolist() == [20.0, 2.0]


def test_pairs_sorted_by_packed_keys_or_by_lexsort_alike() -> None:
    rng = np.random.default_rng(8)
    for high in (1 << 20, 1 << 40):  # keys that pack into 62 bits, and keys that do not
        major = rng.integers(0, high, size=500)
        major[:50] = major[50:100]  # ties on the major key
        minor = rng.integers(0, 1 << 30, size=500)
        order = np.lexsort((minor, major))
        got_major, got_minor = _sorted_pairs(major, minor)
        np.testing.assert_array_equal(got_major, major[order])
        np.testing.assert_array_equal(got_minor, minor[order])
