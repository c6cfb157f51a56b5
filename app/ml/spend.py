"""What a client's next orders are worth: the Gamma-Gamma model of spend per order (Fader, Hardie &
Lee 2005, "RFM and CLV: Using Iso-Value Curves for Customer Base Analysis").

Each order's value is gamma-distributed around the client's own mean (shape ``p``, rate ``nu``); the
rates are gamma-distributed across clients (``q``, ``gamma``). A client's expected order value is
then their own average order shrunk towards the store's, the more the fewer orders they placed:
E[M | n, m] = (gamma + n·m)·p / (p·n + q - 1).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.special import digamma, gammaln

F64 = npt.NDArray[np.float64]

MIN_CLIENTS = 10  # fewer clients with a positive order value are too few to fit a model of them


def mean_order_value(orders: F64, monetary: F64) -> F64:
    """Each client's average order, net of returns (0 for none, or for returns only)."""
    return np.asarray(np.maximum(monetary, 0.0) / np.maximum(orders, 1.0), dtype=np.float64)


@dataclass(frozen=True)
class GammaGamma:
    p: float
    q: float  # > 1, so that the store's mean order value is finite
    gamma: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> GammaGamma:
        return cls(float(raw["p"]), float(raw["q"]), float(raw["gamma"]))

    @property
    def store_mean(self) -> float:
        """The mean order value of a client of whom nothing is known."""
        return self.p * self.gamma / (self.q - 1.0)

    def order_value(self, orders: F64, mean_value: F64) -> F64:
        """E[value of a next order | ``orders`` placed, worth ``mean_value`` on average]. A client
        with no order, or none worth anything (returns only), gets the store's mean."""
        n = np.where(mean_value > 0, np.maximum(orders, 0.0), 0.0)
        m = np.where(n > 0, mean_value, 0.0)
        return np.asarray((self.gamma + n * m) * self.p / (self.p * n + self.q - 1.0), dtype=np.float64)


def log_likelihood(params: GammaGamma, orders: F64, mean_value: F64) -> F64:
    """Each client's log-likelihood of their average order value (orders ≥ 1, mean_value > 0), up
    to a term that does not depend on the parameters."""
    p, q, g = params.p, params.q, params.gamma
    px = p * orders
    return np.asarray(
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(g)
        + px * np.log(orders)
        + (px - 1.0) * np.log(mean_value)
        - (px + q) * np.log(g + orders * mean_value),
        dtype=np.float64,
    )


def _unpack(theta: F64) -> tuple[float, float, float]:
    p, q1, g = np.exp(np.clip(theta, -30.0, 30.0))
    return float(p), float(1.0 + q1), float(g)


def _objective(theta: F64, orders: F64, mean_value: F64, penalty: float) -> tuple[float, F64]:
    """The mean negative log-likelihood over log-parameters (p, q - 1, gamma) and its gradient."""
    p, q, g = _unpack(theta)
    value = -float(log_likelihood(GammaGamma(p, q, g), orders, mean_value).mean())
    px = p * orders
    d_px = (
        digamma(px + q) - digamma(px) + np.log(orders) + np.log(mean_value) - np.log(g + orders * mean_value)
    )
    d_p = float((orders * d_px).mean())
    d_q = float((digamma(px + q) - digamma(q) + np.log(g) - np.log(g + orders * mean_value)).mean())
    d_g = float((q / g - (px + q) / (g + orders * mean_value)).mean())
    # Chain rule to the log-parameters: d/dlog p = p·d/dp, d/dlog(q-1) = (q-1)·d/dq.
    grad = -np.array([p * d_p, (q - 1.0) * d_q, g * d_g]) + 2.0 * penalty * theta
    return value + penalty * float(theta @ theta), grad


def fit_gamma_gamma(orders: F64, mean_value: F64, penalty: float = 1e-4) -> GammaGamma | None:
    """Maximum likelihood from each client's orders and average order value, over the clients with
    at least one order worth something; None when fewer than MIN_CLIENTS are."""
    keep = (orders >= 1) & (mean_value > 0) & np.isfinite(mean_value)
    if int(keep.sum()) < MIN_CLIENTS:
        return None
    orders, mean_value = orders[keep].astype(np.float64), mean_value[keep].astype(np.float64)
    # Fitted in units of the median order value: the same start and penalty fit any currency.
    unit = float(np.median(mean_value))
    scaled = mean_value / unit

    from scipy.optimize import minimize  # here: serving never fits, and the import costs it 0.5 s

    best = minimize(_objective, np.zeros(3), args=(orders, scaled, penalty), jac=True, method="L-BFGS-B")
    p, q, g = _unpack(np.asarray(best.x, dtype=np.float64))
    if not all(np.isfinite([p, q, g])):
        return None
    return GammaGamma(p, q, g * unit)
