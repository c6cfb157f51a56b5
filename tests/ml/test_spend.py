"""The Gamma-Gamma spend model: it finds the parameters it was simulated with, shrinks a thin
history towards the store's mean, and its gradient is the likelihood's."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import approx_fprime

from app.ml.spend import MIN_CLIENTS, GammaGamma, _objective, fit_gamma_gamma


def simulate(truth: GammaGamma, clients: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Each client's orders (1–20) and average order value, drawn as the model says."""
    rng = np.random.default_rng(seed)
    nu = rng.gamma(truth.q, 1.0 / truth.gamma, clients)  # each client's rate
    orders = rng.integers(1, 21, clients).astype(np.float64)
    means = np.array([rng.gamma(truth.p, 1.0 / v, int(n)).mean() for v, n in zip(nu, orders, strict=True)])
    return orders, means


def test_it_finds_the_parameters_it_was_simulated_with() -> None:
    truth = GammaGamma(p=6.0, q=4.0, gamma=15.0)
    orders, means = simulate(truth, 4000, seed=3)
    fitted = fit_gamma_gamma(orders, means)
    assert fitted is not None
    # The store's mean order value is what a campaign budget rests on: within 5 %.
    assert fitted.store_mean == pytest.approx(truth.store_mean, rel=0.05)
    assert fitted.p == pytest.approx(truth.p, rel=0.25)
    assert fitted.q == pytest.approx(truth.q, rel=0.25)


def test_the_fit_does_not_depend_on_the_currency() -> None:
    orders, means = simulate(GammaGamma(3.0, 5.0, 40.0), 800, seed=4)
    pence, pounds = fit_gamma_gamma(orders, means * 100.0), fit_gamma_gamma(orders, means)
    assert pence is not None
    assert pounds is not None
    assert pence.store_mean == pytest.approx(100.0 * pounds.store_mean, rel=1e-3)


def test_a_thin_history_is_shrunk_towards_the_store() -> None:
    model = GammaGamma(p=2.0, q=3.0, gamma=50.0)  # store mean 50
    values = model.order_value(np.array([1.0, 50.0, 0.0, 3.0]), np.array([500.0, 500.0, 0.0, -10.0]))
    one, many, none, returns_only = values
    assert 50.0 < one < many < 500.0  # one order of 500 says less than fifty of them
    assert many == pytest.approx(500.0, rel=0.05)
    assert none == returns_only == pytest.approx(model.store_mean)


def test_the_gradient_is_the_likelihoods() -> None:
    orders, means = simulate(GammaGamma(3.0, 5.0, 4.0), 300, seed=5)
    theta = np.array([0.4, 1.1, 0.7])
    _, grad = _objective(theta, orders, means, 1e-4)
    numeric = approx_fprime(theta, lambda t: _objective(t, orders, means, 1e-4)[0], 1e-6)
    np.testing.assert_allclose(grad, numeric, rtol=1e-3, atol=1e-6)


def test_too_few_clients_with_a_positive_order_fit_nothing() -> None:
    orders = np.ones(MIN_CLIENTS + 5)
    means = np.r_[np.full(MIN_CLIENTS - 1, 20.0), np.zeros(6)]  # returns only: not counted
    assert fit_gamma_gamma(orders, means) is None


def test_it_round_trips() -> None:
    model = GammaGamma(2.5, 3.5, 12.0)
    assert GammaGamma.from_dict(model.to_dict()) == model
