from __future__ import annotations

import itertools

import numpy as np
import pytest

from app.ml.btyd import BgNbd, fit_bgnbd, log_likelihood
from app.ml.rfm import (
    activity,
    average_ranks,
    pareto,
    peer_activity,
    product_momentum,
    quintiles,
    renewal,
    rfm,
    segment,
    segments,
)
from tests.ml.test_rank import lines_from


@pytest.mark.parametrize(
    ("recency", "frequency", "orders", "expected"),
    [
        (0, 0, 0, "prospect"),
        (5, 1, 1, "new"),
        (4, 2, 1, "new"),
        (3, 1, 1, "potential"),  # one order, a while ago: not new any more
        (5, 5, 9, "champions"),
        (4, 4, 6, "champions"),
        (3, 5, 6, "loyal"),
        (5, 3, 3, "loyal"),
        (4, 2, 2, "potential"),
        (3, 2, 2, "potential"),
        (2, 4, 6, "at_risk"),
        (1, 3, 4, "at_risk"),
        (2, 2, 2, "hibernating"),
        (2, 1, 1, "hibernating"),
        (1, 2, 2, "lost"),
        (1, 1, 1, "lost"),
    ],
)
def test_segment_rules(recency: int, frequency: int, orders: int, expected: str) -> None:
    assert segment(recency, frequency, orders) == expected


def test_activity_counts_orders_nets_returns_and_knows_who_never_bought() -> None:
    # (customer, product, order, quantity, unit_price, age)
    rows = [
        (0, 0, 1, 2, 5.0, 40.0),  # customer 0: two orders, the first with two lines
        (0, 1, 1, 1, 3.0, 40.0),
        (0, 0, 2, 1, 5.0, 10.0),
        (0, 0, 3, -1, 5.0, 5.0),  # a return: not an order, but netted from the spend
        (1, 0, 4, 1, 5.0, 20.0),  # customer 1: one order
        (2, 0, 5, -2, 5.0, 3.0),  # customer 2: returns only
    ]
    act = activity(lines_from(rows), 4)  # customer 3: nothing before the moment
    assert act.orders.tolist() == [2.0, 1.0, 0.0, 0.0]
    assert act.monetary.tolist() == [13.0 + 5.0 - 5.0, 5.0, -10.0, 0.0]
    assert act.products.tolist() == [2.0, 1.0, 0.0, 0.0]
    assert act.returns.tolist() == [1.0, 0.0, 1.0, 0.0]
    assert act.lines_per_order.tolist() == [1.5, 1.0, 0.0, 0.0]
    assert act.last_order_lines.tolist() == [1.0, 1.0, 0.0, 0.0]  # the return is not an order
    assert act.last_order_spend.tolist() == [5.0, 5.0, 0.0, 0.0]
    np.testing.assert_allclose(act.units_per_line, [4 / 3, 1.0, 0.0, 0.0])
    np.testing.assert_allclose(act.price_per_unit, [(10.0 + 3.0 + 5.0) / 4, 5.0, 0.0, 0.0])
    # customer 0 sent a line back 5 days after their latest order; returns alone are not "since" one
    assert act.returned_since.tolist() == [1.0, 0.0, 0.0, 0.0]
    # customer 0's one gap (30 days) outlasted the current 10 and ended within 30 more: (1 + 1) / (1 + 2)
    np.testing.assert_allclose(act.renewal, [2 / 3, 0.5, 0.5, 0.5])
    assert act.first_age[0] == 40.0
    assert act.last_age[0] == 10.0
    assert np.isnan(act.last_age[2])
    assert np.isnan(act.first_age[3])
    x, t_x, age = act.bgnbd_inputs()
    assert (x[0], t_x[0], age[0]) == (1.0, 30.0, 40.0)
    assert (x[1], t_x[1], age[1]) == (0.0, 0.0, 20.0)
    scores = rfm(act)
    assert scores.recency[2] == scores.recency[3] == 0  # no orders, no score
    assert segments(act, scores)[2:] == ["prospect", "prospect"]


def test_renewal_is_how_often_a_lull_this_long_ended_within_the_horizon() -> None:
    # Orders as (customer, age). Customer 0: gaps of 10, 12 and 80 days, 20 days since the last order:
    # of the gaps longer than 20 (just the 80), none ended within 30 more.
    # Customer 1: gaps of 40, 45 and 200 days, 20 days since the last: two of the three ended by 50.
    # Customer 2: gaps of 5 and 6 days, 15 days since the last: none ran longer. Customer 3: one order.
    ages = {0: [20, 30, 42, 122], 1: [20, 60, 105, 305], 2: [15, 20, 26], 3: [7]}
    customer = np.array([c for c, a in ages.items() for _ in a])
    age = np.array([float(x) for a in ages.values() for x in a])
    shuffle = np.random.default_rng(2).permutation(len(age))
    last = np.array([20.0, 20.0, 15.0, 7.0, np.nan])  # customer 4: no orders
    odds = renewal(customer[shuffle], age[shuffle], last, 30.0)
    np.testing.assert_allclose(odds, [(0 + 1) / (1 + 2), (2 + 1) / (3 + 2), 0.5, 0.5, 0.5])


def test_quintiles_rank_the_base() -> None:
    assert quintiles(np.arange(10.0)).tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert quintiles(np.arange(10.0), higher_is_better=False).tolist() == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
    assert quintiles(np.ones(5)).tolist() == [3, 3, 3, 3, 3]  # ties share a score


def test_pareto_share_against_a_direct_computation() -> None:
    rng = np.random.default_rng(4)
    spend = rng.pareto(1.2, 1000) * 100
    share, curve = pareto(spend)
    top = np.sort(spend)[::-1][:200]
    assert share == pytest.approx(top.sum() / spend.sum())
    assert curve[0] == (0.0, 0.0)
    assert curve[-1][0] == 1.0
    assert curve[-1][1] == pytest.approx(1.0)
    assert all(b[1] >= a[1] for a, b in itertools.pairwise(curve))


def simulate(params: BgNbd, customers: int, days: float, seed: int) -> tuple[np.ndarray, ...]:
    """Customers as the (M)BG/NBD story tells it, each first buying at day 0 and watched for ``days``."""
    rng = np.random.default_rng(seed)
    rates = rng.gamma(params.r, 1.0 / params.alpha, customers)
    drop = rng.beta(params.a, params.b, customers)
    x, t_x = np.zeros(customers), np.zeros(customers)
    for i in range(customers):
        t = 0.0
        if params.modified and rng.random() < drop[i]:
            continue  # left right after the first order
        while True:
            t += rng.exponential(1.0 / rates[i])
            if t > days:
                break
            x[i] += 1
            t_x[i] = t
            if rng.random() < drop[i]:
                break
    return x, t_x, np.full(customers, days)


def test_bgnbd_recovers_the_parameters_it_was_simulated_with() -> None:
    truth = BgNbd(r=0.8, alpha=40.0, a=0.7, b=3.0)
    x, t_x, age = simulate(truth, 3000, 365.0, seed=11)
    fitted = fit_bgnbd(x, t_x, age, modified=False)
    assert log_likelihood(fitted, x, t_x, age).sum() >= log_likelihood(truth, x, t_x, age).sum()
    assert fitted.r == pytest.approx(truth.r, rel=0.25)
    assert fitted.alpha == pytest.approx(truth.alpha, rel=0.3)
    # what matters downstream: the expected orders of the base in the next 30 days
    expected = fitted.expected(30.0, x, t_x, age).sum()
    assert expected == pytest.approx(truth.expected(30.0, x, t_x, age).sum(), rel=0.1)


def test_mbgnbd_recovers_the_parameters_it_was_simulated_with() -> None:
    truth = BgNbd(r=0.8, alpha=40.0, a=1.5, b=4.0, modified=True)
    x, t_x, age = simulate(truth, 3000, 365.0, seed=12)
    fitted = fit_bgnbd(x, t_x, age)
    assert fitted.modified
    assert log_likelihood(fitted, x, t_x, age).sum() >= log_likelihood(truth, x, t_x, age).sum()
    assert fitted.r == pytest.approx(truth.r, rel=0.25)
    expected = fitted.expected(30.0, x, t_x, age).sum()
    assert expected == pytest.approx(truth.expected(30.0, x, t_x, age).sum(), rel=0.1)
    assert fitted.p_alive(x, t_x, age).mean() == pytest.approx(truth.p_alive(x, t_x, age).mean(), abs=0.05)


def test_mbgnbd_p_alive_falls_with_time_since_the_last_order_for_everyone() -> None:
    m = BgNbd(r=0.5, alpha=30.0, a=0.8, b=2.5, modified=True)
    ages = np.array([1.0, 30.0, 365.0, 5501.0])
    for x in (0.0, 1.0, 4.0):
        t_x = np.full(4, 0.0 if x == 0 else 0.5)
        alive = m.p_alive(np.full(4, x), t_x, ages)
        assert np.all(np.diff(alive) < 0), (x, alive)
        assert np.all((alive > 0) & (alive < 1))
    alive = m.p_alive(np.zeros(2), np.zeros(2), np.array([30.0, 5501.0]))
    assert alive[1] < 0.25 < alive[0]  # one order 15 years ago: unlikely still a customer


def test_bgnbd_properties() -> None:
    m = BgNbd(r=0.5, alpha=30.0, a=0.8, b=2.5)
    x = np.array([0.0, 3.0, 3.0])
    t_x = np.array([0.0, 100.0, 20.0])
    age = np.array([120.0, 120.0, 120.0])
    alive = m.p_alive(x, t_x, age)
    assert alive[0] == 1.0  # never came back: no evidence they left
    assert alive[1] > alive[2]  # the one who bought lately is likelier still here
    e30, e60 = m.expected(30.0, x, t_x, age), m.expected(60.0, x, t_x, age)
    assert np.all(e60 > e30)
    assert np.all(e30 >= 0)


def test_product_momentum_is_how_a_clients_products_sell_lately() -> None:
    # (customer, product, order, quantity, unit_price, age). Product 0: 3 orders in the last 30 days,
    # 2 in the 60 before (1 per 30 days). Product 1: none lately, 4 in the 60 before (2 per 30 days).
    rows = [(9, 0, k, 1, 1.0, 5.0 + k) for k in range(3)]
    rows += [(9, 0, 10 + k, 1, 1.0, 40.0 + k) for k in range(2)]
    rows += [(9, 1, 20 + k, 1, 1.0, 50.0 + k) for k in range(4)]
    rows += [
        (0, 0, 30, 1, 10.0, 100.0),  # customer 0 bought product 0 only
        (1, 1, 31, 1, 10.0, 100.0),  # customer 1 product 1 only
        (2, 0, 32, 1, 30.0, 100.0),  # customer 2 both, three times the spend on product 0
        (2, 1, 32, 1, 10.0, 100.0),
        (3, 1, 33, 1, 10.0, 400.0),  # customer 3: only longer ago than a year
    ]
    momentum = product_momentum(lines_from(rows), 10)
    rising, falling = np.log((3 + 1) / (1 + 1)), np.log((0 + 1) / (2 + 1))
    np.testing.assert_allclose(momentum[:4], [rising, falling, (3 * rising + falling) / 4, 0.0])


def test_peer_activity_is_the_share_of_a_clients_fellow_buyers_back_lately() -> None:
    rows = [
        (0, 0, 1, 1, 1.0, 100.0),  # customer 0: products 0 and 1, not back lately
        (0, 1, 1, 1, 1.0, 100.0),
        (1, 0, 2, 1, 1.0, 10.0),  # customer 1: product 0, back lately
        (2, 1, 3, 1, 1.0, 200.0),  # customer 2: product 1, not back lately
        (3, 1, 4, 1, 1.0, 5.0),  # customer 3: products 1 and 2, back lately
        (3, 2, 4, 1, 1.0, 5.0),
        (4, 3, 5, 1, 1.0, 50.0),  # customer 4: a product nobody else bought
    ]
    peers = peer_activity(lines_from(rows), 6, 30.0)
    # customer 0's fellow buyers: 1 (of product 0), 2 and 3 (of product 1); 1 and 3 are back
    assert peers[0] == pytest.approx(2 / 3)
    assert peers[1] == 0.0  # only customer 0 shares their product
    assert peers[2] == pytest.approx(1 / 2)  # 0 and 3
    assert peers[3] == pytest.approx(0.0)  # 0 and 2 on product 1, nobody else on product 2
    assert peers[4] == peers[5] == 0.0  # nobody to compare with; no purchases
    assert peer_activity(lines_from(rows), 6, 60.0)[4] == 0.0


def test_returned_since_flags_a_return_newer_than_the_latest_order_only() -> None:
    # (customer, product, order, quantity, unit_price, age)
    rows = [
        (0, 0, 1, 1, 5.0, 20.0),  # customer 0: sent back before their latest order
        (0, 0, 2, -1, 5.0, 30.0),
        (1, 0, 3, 1, 5.0, 20.0),  # customer 1: sent back on the same line's moment: not after it
        (1, 0, 4, -1, 5.0, 20.0),
        (2, 0, 5, 1, 5.0, 20.0),  # customer 2: sent back half a day after it
        (2, 1, 6, -1, 5.0, 19.5),
    ]
    assert activity(lines_from(rows), 3).returned_since.tolist() == [0.0, 0.0, 1.0]


def test_average_ranks_match_scipy() -> None:
    from scipy.stats import rankdata

    rng = np.random.default_rng(3)
    for values in (rng.integers(0, 5, 200).astype(float), rng.normal(size=50), np.ones(4), np.zeros(0)):
        assert np.array_equal(average_ranks(values), rankdata(values, method="average"))
