from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.ml.forecast import (
    BASE_FEATURES,
    BASKET_FEATURES,
    FEATURES,
    LINE_FEATURES,
    VALUE_HORIZON,
    Forecast,
    features,
    fit_forecast,
)
from app.ml.rfm import activity
from tests.ml.test_rank import lines_from


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


def habits(seed: int) -> list[tuple[float, ...]]:
    """A year of orders from 60 customers with rates from one a week to one a quarter."""
    rng = np.random.default_rng(seed)
    rows: list[tuple[float, ...]] = []
    order = 0
    for c in range(60):
        gap = float(rng.choice([7.0, 30.0, 90.0]))
        age = 365.0 - float(rng.uniform(0, gap))
        while age > 0:
            for p in rng.choice(8, size=int(rng.integers(1, 4)), replace=False).tolist():
                rows.append((c, p, order, int(rng.integers(1, 5)), 2.0, age))
            order += 1
            age -= float(rng.exponential(gap))
    return rows


def test_forecast_ranks_frequent_clients_first_and_round_trips() -> None:
    lines = lines_from(habits(seed=3))
    forecast = fit_forecast(lines, 60)
    assert forecast is not None
    act = activity(lines, 60)
    expected = forecast.expected(act)
    recent = act.recent[90]
    assert expected[recent >= np.quantile(recent, 0.75)].mean() > 2 * expected[recent <= 1].mean()
    again = Forecast.from_dict(forecast.to_dict())
    np.testing.assert_allclose(again.expected(act), expected)


def test_the_regression_ranks_and_bgnbd_sets_the_level() -> None:
    for seed in (3, 4, 5):
        lines = lines_from(habits(seed=seed))
        forecast = fit_forecast(lines, 60)
        assert forecast is not None
        assert forecast.weights[1:] != [1.0] + [0.0] * (len(forecast.weights) - 2)  # not BG/NBD alone
        act = activity(lines, 60)
        x, t_x, age = act.bgnbd_inputs()
        level = forecast.bgnbd.expected(30.0, x, t_x, age)[act.buyers].sum()
        assert forecast.expected(act).sum() == pytest.approx(level, rel=1e-6)


@pytest.mark.parametrize(
    ("feature_set", "width"), [(1, BASE_FEATURES), (2, BASKET_FEATURES), (3, LINE_FEATURES)]
)
def test_a_version_of_an_earlier_feature_set_is_served_as_fitted(feature_set: int, width: int) -> None:
    lines = lines_from(habits(seed=4))
    act = activity(lines, 60)
    forecast = fit_forecast(lines, 60)
    assert forecast is not None
    assert forecast.features == FEATURES
    assert len(forecast.weights) == features(forecast.bgnbd, act).shape[1] + 1 > width + 1
    rng = np.random.default_rng(5)
    weights = rng.normal(scale=0.1, size=width + 1).tolist()
    old = forecast.to_dict() | {
        "weights": weights,
        "mean": [0.0] * width,
        "scale": [1.0] * width,
        "features": feature_set,
    }
    if feature_set == 1:
        del old["features"]  # as versions of the first set wrote it
    base = features(forecast.bgnbd, act)[:, :width]
    wanted = np.exp(weights[0] + base @ np.array(weights[1:]))
    np.testing.assert_allclose(Forecast.from_dict(old).expected(act), np.where(act.buyers, wanted, 0.0))


def test_an_earlier_feature_set_can_be_fitted_to_measure_what_the_later_ones_add() -> None:
    lines = lines_from(habits(seed=6))
    act = activity(lines, 60)
    earlier = fit_forecast(lines, 60, feature_set=3)
    latest = fit_forecast(lines, 60)
    assert earlier is not None
    assert latest is not None
    assert (earlier.features, len(earlier.weights)) == (3, LINE_FEATURES + 1)
    assert len(latest.weights) == LINE_FEATURES + 2
    # No client here sent anything back, so the later set's extra column is constant and adds nothing.
    np.testing.assert_allclose(earlier.expected(act), latest.expected(act), rtol=1e-4)
    again = Forecast.from_dict(earlier.to_dict())
    np.testing.assert_allclose(again.expected(act), earlier.expected(act))


@st.composite
def stores(draw: st.DrawFn) -> tuple[list[tuple[float, ...]], int]:
    """Stores of every awkward shape: purchases seconds old, one day of data, a clock long after the
    last purchase, one buyer or many, a few heavy buyers among occasional ones."""
    customers = draw(st.integers(1, 40))
    offset = draw(st.sampled_from([0.0, 1e-5, 30.0, 5000.0]))  # how long before the clock it ends
    span = draw(st.sampled_from([1e-4, 0.9, 30.0, 400.0]))  # how many days the data covers
    rows: list[tuple[float, ...]] = []
    order = 0
    for c in range(customers):
        for _ in range(draw(st.integers(1, 12))):
            age = offset + draw(st.floats(0.0, span))
            rows.append((c, draw(st.integers(0, 5)), order, draw(st.integers(1, 4)), 2.0, age))
            order += 1
    return rows, customers


@settings(max_examples=60, deadline=None, derandomize=True)
@given(stores())
def test_forecasts_stay_finite_and_plausible_for_any_store(
    store: tuple[list[tuple[float, ...]], int],
) -> None:
    rows, customers = store
    lines = lines_from(rows)
    forecast = fit_forecast(lines, customers)
    if forecast is None:
        return
    act = activity(lines, customers)
    expected, alive = forecast.expected(act), forecast.p_active(act)
    assert np.all(np.isfinite(expected))
    assert np.all(np.isfinite(alive))
    assert np.all((alive >= 0) & (alive <= 1))
    # No one is expected to order in 30 days more than three times what the busiest placed in 30 days.
    orders_30 = max(act.recent[30].max(initial=0.0), 1.0)
    assert np.all((expected >= 0) & (expected <= 3 * orders_30 + 1e-9)), expected.max()
    # Over 90 days: at least the 30 days' orders, at most three times them; spend finite, never negative.
    orders_90 = forecast.orders_over(act, VALUE_HORIZON, expected)
    assert np.all((orders_90 >= expected - 1e-12) & (orders_90 <= 3 * expected + 1e-9))
    value = forecast.order_value(act)
    assert np.all(np.isfinite(value) & (value >= 0))


def test_the_clients_value_over_90_days_follows_their_orders_and_what_they_spend() -> None:
    rows = habits(seed=7)
    # Customer 0 pays ten times the price for the same habits as customer 1 (same seed row pattern).
    rows = [(c, p, o, q, 20.0 if c % 2 == 0 else 2.0, a) for c, p, o, q, _, a in rows]
    lines = lines_from(rows)
    act = activity(lines, 60)
    forecast = fit_forecast(lines, 60)
    assert forecast is not None
    assert forecast.spend is not None
    expected = forecast.expected(act)
    orders_90 = forecast.orders_over(act, VALUE_HORIZON, expected)
    value = forecast.order_value(act)
    spend_90 = orders_90 * value
    dear, cheap = np.arange(60) % 2 == 0, np.arange(60) % 2 == 1
    assert value[dear].mean() > 5 * value[cheap].mean()
    # Among clients who pay alike, the value ranks by orders expected.
    frequent = orders_90[dear] >= np.median(orders_90[dear])
    assert spend_90[dear][frequent].mean() > spend_90[dear][~frequent].mean()
    again = Forecast.from_dict(forecast.to_dict())
    np.testing.assert_allclose(again.order_value(act), value)
    assert Forecast.from_dict(forecast.to_dict() | {"spend": None}).spend is None  # older versions
