"""Buy till you die: the BG/NBD model (Fader, Hardie & Lee 2005), fitted by maximum likelihood.

Each customer buys at a Poisson rate (gamma-distributed across customers: r, alpha) and, after each
order, leaves for good with a probability (beta-distributed: a, b). From a customer's repeat orders
``x``, the time of their last order ``t_x`` and their age ``T`` (both from their first order, in days)
it gives the probability they are still a customer and their expected orders in the next ``t`` days.
(Well-kept libraries for it either stopped in 2020 or bring a whole probabilistic-programming stack.)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize
from scipy.special import gammaln, hyp2f1

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class BgNbd:
    r: float
    alpha: float
    a: float
    b: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> BgNbd:
        return cls(float(raw["r"]), float(raw["alpha"]), float(raw["a"]), float(raw["b"]))

    def p_alive(self, x: F64, t_x: F64, age: F64) -> F64:
        """P(still a customer | x, t_x, T)."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        log_ratio = (r + x) * (np.log(alpha + age) - np.log(alpha + t_x))
        odds = np.where(x > 0, a / np.maximum(b + x - 1, 1e-12) * np.exp(np.minimum(log_ratio, 700)), 0.0)
        return np.asarray(1.0 / (1.0 + odds), dtype=np.float64)

    def expected(self, t: float, x: F64, t_x: F64, age: F64) -> F64:
        """E[orders in the next ``t`` days | x, t_x, T]."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        z = t / (alpha + age + t)
        head = (a + b + x - 1) / (a - 1)
        tail = 1.0 - np.exp((r + x) * (np.log(alpha + age) - np.log(alpha + age + t))) * hyp2f1(
            r + x, b + x, a + b + x - 1, z
        )
        return np.asarray(head * tail * self.p_alive(x, t_x, age), dtype=np.float64)


def log_likelihood(params: BgNbd, x: F64, t_x: F64, age: F64) -> F64:
    """Each customer's log-likelihood."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + age)
    with np.errstate(divide="ignore"):
        a4 = np.where(
            x > 0,
            np.log(a) - np.log(np.maximum(b + x - 1, 1e-12)) - (r + x) * np.log(alpha + t_x),
            -np.inf,
        )
    return np.asarray(a1 + a2 + np.logaddexp(a3, a4), dtype=np.float64)


def fit_bgnbd(x: F64, t_x: F64, age: F64, penalty: float = 1e-4) -> BgNbd:
    """Maximum likelihood over log-parameters (a small L2 penalty keeps them finite on thin data)."""
    keep = age > 0
    x, t_x, age = x[keep], t_x[keep], age[keep]
    if len(x) == 0:
        raise ValueError("no customer to fit")

    def loss(theta: F64) -> float:
        p = BgNbd(*np.exp(theta))
        return float(-log_likelihood(p, x, t_x, age).mean() + penalty * float(theta @ theta))

    start = np.log([1.0, max(float(np.mean(age)), 1.0), 1.0, 1.0])
    best = minimize(
        loss, start, method="Nelder-Mead", options={"maxiter": 4000, "xatol": 1e-6, "fatol": 1e-10}
    )
    return BgNbd(*np.exp(best.x))
