"""Buy till you die: BG/NBD (Fader, Hardie & Lee 2005) and its modified form MBG/NBD (Batislam,
Denizel & Filiztekin 2007), fitted by maximum likelihood.

Each customer buys at a Poisson rate (gamma-distributed across customers: r, alpha) and, after each
order, leaves for good with a probability (beta-distributed: a, b). From a customer's repeat orders
``x``, the time of their last order ``t_x`` and their age ``T`` (both from their first order, in days)
it gives the probability they are still a customer and their expected orders in the next ``t`` days.

BG/NBD lets no one leave at their first order, so a customer who never came back is "alive" with
probability 1 however long ago that order was. MBG/NBD also allows leaving right after the first
order: P(alive) falls with the time since the last order for every customer; nbo fits it. (Well-kept
libraries for either stopped in 2020 or bring a whole probabilistic-programming stack.)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.special import expit, gammaln, hyp2f1

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class BgNbd:
    r: float
    alpha: float
    a: float
    b: float
    modified: bool = False  # MBG/NBD: a customer may also leave right after their first order

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> BgNbd:
        params = (float(raw["r"]), float(raw["alpha"]), float(raw["a"]), float(raw["b"]))
        return cls(*params, bool(raw.get("modified", False)))

    def _shift(self, x: F64) -> F64:
        """b + x - 1 for BG/NBD (no leaving at the first order), b + x for MBG/NBD."""
        return np.asarray(self.b + x - (0.0 if self.modified else 1.0), dtype=np.float64)

    def p_alive(self, x: F64, t_x: F64, age: F64) -> F64:
        """P(still a customer | x, t_x, T)."""
        r, alpha, a = self.r, self.alpha, self.a
        log_ratio = (r + x) * (np.log(alpha + age) - np.log(alpha + t_x))
        log_odds = np.log(a) - np.log(np.maximum(self._shift(x), 1e-12)) + log_ratio
        if not self.modified:
            log_odds = np.where(x > 0, log_odds, -np.inf)
        return np.asarray(expit(-log_odds), dtype=np.float64)  # 1 / (1 + odds), without overflow

    def expected(self, t: float, x: F64, t_x: F64, age: F64) -> F64:
        """E[orders in the next ``t`` days | x, t_x, T]."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        with np.errstate(all="ignore"):  # parameters fitted on thin data may overflow: read as 0
            z = t / (alpha + age + t)
            c = a + self._shift(x)
            head = c / (a - 1)
            tail = 1.0 - np.exp((r + x) * (np.log(alpha + age) - np.log(alpha + age + t))) * hyp2f1(
                r + x, b + x + (1.0 if self.modified else 0.0), c, z
            )
            value = head * tail * self.p_alive(x, t_x, age)
        return np.asarray(np.maximum(np.nan_to_num(value, nan=0.0, posinf=0.0), 0.0), dtype=np.float64)


def log_likelihood(params: BgNbd, x: F64, t_x: F64, age: F64) -> F64:
    """Each customer's log-likelihood."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    lift = 1.0 if params.modified else 0.0  # MBG/NBD: one more chance to leave, at the first order
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x + lift) - gammaln(b) - gammaln(a + b + x + lift)
    a3 = -(r + x) * np.log(alpha + age)
    with np.errstate(divide="ignore"):
        leave = np.log(a) - np.log(np.maximum(params._shift(x), 1e-12)) - (r + x) * np.log(alpha + t_x)
        a4 = leave if params.modified else np.where(x > 0, leave, -np.inf)
    return np.asarray(a1 + a2 + np.logaddexp(a3, a4), dtype=np.float64)


def fit_bgnbd(x: F64, t_x: F64, age: F64, penalty: float = 1e-4, modified: bool = True) -> BgNbd:
    """Maximum likelihood over log-parameters (a small L2 penalty keeps them finite on thin data)."""
    keep = age > 0
    x, t_x, age = x[keep], t_x[keep], age[keep]
    if len(x) == 0:
        raise ValueError("no customer to fit")

    def params(theta: F64) -> BgNbd:
        r, alpha, a, b = np.exp(np.clip(theta, -30.0, 30.0))
        return BgNbd(float(r), float(alpha), float(a), float(b), modified)

    def loss(theta: F64) -> float:
        with np.errstate(all="ignore"):
            value = float(-log_likelihood(params(theta), x, t_x, age).mean() + penalty * float(theta @ theta))
        return value if np.isfinite(value) else 1e300

    from scipy.optimize import minimize  # here: serving never fits, and the import costs it 0.5 s

    start = np.log([1.0, max(float(np.mean(age)), 1.0), 1.0, 1.0])
    best = minimize(
        loss, start, method="Nelder-Mead", options={"maxiter": 4000, "xatol": 1e-6, "fatol": 1e-10}
    )
    return params(best.x)
