from __future__ import annotations

import itertools

import numpy as np
import pytest

from app.ml.btyd import BgNbd, fit_bgnbd, log_likelihood
from app.ml.moment import activity, fit_forecast, pareto, quintiles, rfm, segment, segments
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
    """Customers as the BG/NBD story tells it, each first buying at day 0 and watched for ``days``."""
    rng = np.random.default_rng(seed)
    rates = rng.gamma(params.r, 1.0 / params.alpha, customers)
    drop = rng.beta(params.a, params.b, customers)
    x, t_x = np.zeros(customers), np.zeros(customers)
    for i in range(customers):
        t = 0.0
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
    fitted = fit_bgnbd(x, t_x, age)
    assert log_likelihood(fitted, x, t_x, age).sum() >= log_likelihood(truth, x, t_x, age).sum()
    assert fitted.r == pytest.approx(truth.r, rel=0.25)
    assert fitted.alpha == pytest.approx(truth.alpha, rel=0.3)
    # what matters downstream: the expected orders of the base in the next 30 days
    expected = fitted.expected(30.0, x, t_x, age).sum()
    assert expected == pytest.approx(truth.expected(30.0, x, t_x, age).sum(), rel=0.1)


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


def test_forecast_needs_buyers_and_falls_back_to_bgnbd_when_all_are_recent() -> None:
    # (customer, product, order, quantity, unit_price, age): three orders each in the last ten days
    recent = [(c, 0, 100 * c + k, 1, 2.0, float(2 + 3 * k)) for c in range(20) for k in range(3)]
    assert fit_forecast(lines_from(recent[:27]), 20) is None  # nine buyers: too few
    forecast = fit_forecast(lines_from(recent), 20)
    assert forecast is not None
    lines = lines_from(recent)
    act = activity(lines, 20)
    x, t_x, age = act.bgnbd_inputs()
    alone = forecast.bgnbd.expected(30.0, x, t_x, age)
    np.testing.assert_allclose(forecast.expected(act), alone + 1e-3, rtol=1e-9)
