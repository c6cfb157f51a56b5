"""Knowing each client as of a moment: their activity, RFM scores, segment and purchase timing.

Orders are counted, not lines: an order is an order_id (or a purchase day without one) holding at
least one line with a positive quantity. Monetary is the net spend (returns netted).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize
from scipy.stats import rankdata

from app.ml.btyd import BgNbd, fit_bgnbd
from app.ml.matrix import Lines

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

SEGMENTS = ("champions", "loyal", "potential", "new", "at_risk", "hibernating", "lost", "prospect")


@dataclass(frozen=True)
class Activity:
    """Per customer code; ages are days before the moment, NaN for a customer without orders."""

    orders: F64
    monetary: F64
    first_age: F64
    last_age: F64
    recent: dict[int, F64]  # per window of WINDOWS days: orders in its last that many days

    @property
    def buyers(self) -> npt.NDArray[np.bool_]:
        return self.orders > 0

    def bgnbd_inputs(self) -> tuple[F64, F64, F64]:
        """(x repeat orders, t_x days from first to last order, T days from first order to now)."""
        x = np.maximum(self.orders - 1, 0)
        return x, np.nan_to_num(self.first_age - self.last_age), np.nan_to_num(self.first_age)


def _orders(lines: Lines) -> tuple[I64, F64]:
    """Each order holding a purchased line: its customer and its age (its latest line's)."""
    positive = lines.quantity > 0
    pairs, inverse = np.unique(
        np.stack([lines.customer[positive], lines.order[positive]], axis=1), axis=0, return_inverse=True
    )
    age = np.full(len(pairs), np.inf)
    np.minimum.at(age, inverse.ravel(), lines.age_days[positive])
    return pairs[:, 0].astype(np.int64), age


def _recent(customer: I64, age: F64, n_customers: int) -> dict[int, F64]:
    return {d: np.bincount(customer[age < d], minlength=n_customers).astype(np.float64) for d in WINDOWS}


def recent_orders(lines: Lines, n_customers: int) -> dict[int, F64]:
    """Per window, each customer's orders in the last that many days."""
    return _recent(*_orders(lines), n_customers)


def activity(lines: Lines, n_customers: int) -> Activity:
    """From lines whose ages count back from the moment (only lines before it)."""
    positive = lines.quantity > 0
    customer_of_order, order_age = _orders(lines)
    orders = np.bincount(customer_of_order, minlength=n_customers).astype(np.float64)
    first = np.full(n_customers, -np.inf)
    last = np.full(n_customers, np.inf)
    np.maximum.at(first, lines.customer[positive], lines.age_days[positive])
    np.minimum.at(last, lines.customer[positive], lines.age_days[positive])
    monetary = np.bincount(lines.customer, weights=lines.spend, minlength=n_customers)
    none = orders == 0
    return Activity(
        orders=orders,
        monetary=monetary.astype(np.float64),
        first_age=np.where(none, np.nan, first),
        last_age=np.where(none, np.nan, last),
        recent=_recent(customer_of_order, order_age, n_customers),
    )


def quintiles(values: F64, higher_is_better: bool = True) -> I64:
    """Scores 1-5 by rank among the values (ties share a score)."""
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    ranks = rankdata(values if higher_is_better else -values, method="average")
    return np.asarray(np.minimum(np.ceil(ranks / len(values) * 5), 5), dtype=np.int64)


@dataclass(frozen=True)
class Rfm:
    recency: I64  # 5: bought most recently
    frequency: I64  # 5: most orders
    monetary: I64  # 5: spent most


def rfm(act: Activity) -> Rfm:
    """RFM scores of the buyers (0 for customers without orders), quintiles over the buyers."""
    n = len(act.orders)
    buyers = act.buyers
    scores = [np.zeros(n, dtype=np.int64) for _ in range(3)]
    for out, values, better in (
        (scores[0], act.last_age, False),
        (scores[1], act.orders, True),
        (scores[2], act.monetary, True),
    ):
        out[buyers] = quintiles(values[buyers], better)
    return Rfm(*scores)


def segment(recency: int, frequency: int, orders: float) -> str:
    """The named segment; the first rule that holds wins."""
    if orders <= 0:
        return "prospect"
    if orders == 1 and recency >= 4:
        return "new"
    if recency >= 4 and frequency >= 4:
        return "champions"
    if recency >= 3 and frequency >= 3:
        return "loyal"
    if recency >= 3:
        return "potential"
    if frequency >= 3:
        return "at_risk"
    if recency == 2:
        return "hibernating"
    return "lost"


def segments(act: Activity, scores: Rfm) -> list[str]:
    return [
        segment(int(r), int(f), float(o))
        for r, f, o in zip(scores.recency, scores.frequency, act.orders, strict=True)
    ]


def pareto(monetary: F64, points: int = 20) -> tuple[float, list[tuple[float, float]]]:
    """Share of revenue from the top 20 % of customers, and the curve: (share of customers, best
    first; share of revenue), at ``points`` even steps. Customers with no positive spend count as 0."""
    spend = np.sort(np.maximum(monetary, 0.0))[::-1]
    total = float(spend.sum())
    if len(spend) == 0 or total <= 0:
        return 0.0, [(i / points, 0.0) for i in range(points + 1)]
    cumulative = np.concatenate([[0.0], np.cumsum(spend)]) / total

    def share(fraction: float) -> float:
        return float(cumulative[round(fraction * len(spend))])

    return share(0.2), [(i / points, share(i / points)) for i in range(points + 1)]


WINDOWS = (14, 30, 90, 180, 365)  # days of recent orders used as features
HORIZON = 30.0


@dataclass(frozen=True)
class Forecast:
    """Expected orders in the next 30 days: BG/NBD, then a Poisson regression on its expectation,
    its P(alive) and the customer's recent activity, fitted on the 30 days before the version's clock
    (it carries the store's momentum, e.g. a season's build-up, and recent habits BG/NBD ignores)."""

    bgnbd: BgNbd
    weights: list[float]
    mean: list[float]
    scale: list[float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "bgnbd": self.bgnbd.to_dict(),
            "weights": self.weights,
            "mean": self.mean,
            "scale": self.scale,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Forecast:
        return cls(BgNbd.from_dict(raw["bgnbd"]), raw["weights"], raw["mean"], raw["scale"])

    def p_active(self, act: Activity) -> F64:
        x, t_x, age = act.bgnbd_inputs()
        return np.where(act.buyers, self.bgnbd.p_alive(x, t_x, age), 0.0)

    def expected(self, act: Activity) -> F64:
        z = (_features(self.bgnbd, act) - np.array(self.mean)) / np.array(self.scale)
        eta = self.weights[0] + z @ np.array(self.weights[1:])
        return np.where(act.buyers, np.exp(np.minimum(eta, 50.0)), 0.0)


def _features(bgnbd: BgNbd, act: Activity) -> F64:
    x, t_x, age = act.bgnbd_inputs()
    mean_gap = np.where(x > 0, t_x / np.maximum(x, 1.0), 0.0)
    last = np.nan_to_num(act.last_age)
    due = np.where(x > 0, last / (mean_gap + 1.0), 0.0)
    columns = [
        np.log(bgnbd.expected(HORIZON, x, t_x, age) + 1e-3),
        np.log(bgnbd.p_alive(x, t_x, age) + 1e-3),
        *(np.log1p(act.recent[d]) for d in WINDOWS),
        np.log1p(last),
        np.log1p(age),
        np.log1p(np.maximum(act.monetary, 0.0)),
        np.log1p(due),
        (x == 0).astype(np.float64),
    ]
    return np.stack(columns, axis=1)


MIN_BUYERS = 10  # fewer customers who ordered are too few to fit a model of them


def fit_forecast(lines: Lines, n_customers: int, l2: float = 1e-3) -> Forecast | None:
    """From lines whose ages count back from the version's clock; None with fewer than MIN_BUYERS
    buyers. When the 30 days before the clock hold the first orders of nearly everyone (too few
    buyers before them to learn from), the forecast is BG/NBD alone."""
    act_now = activity(lines, n_customers)
    if int(act_now.buyers.sum()) < MIN_BUYERS:
        return None
    x, t_x, age = act_now.bgnbd_inputs()
    now = fit_bgnbd(x[act_now.buyers], t_x[act_now.buyers], age[act_now.buyers])
    earlier = lines.take(lines.age_days >= HORIZON).aged(-HORIZON)
    act_then = activity(earlier, n_customers)
    buyers = act_then.buyers
    if int(buyers.sum()) < MIN_BUYERS:
        width = len(WINDOWS) + 7  # the columns of _features; the first is log E[BG/NBD]
        return Forecast(now, [0.0, 1.0] + [0.0] * (width - 1), [0.0] * width, [1.0] * width)
    x, t_x, age = act_then.bgnbd_inputs()
    then = fit_bgnbd(x[buyers], t_x[buyers], age[buyers])
    features = _features(then, act_then)[buyers]
    # What each of them ordered in the 30 days that followed, up to the clock.
    window = lines.take(lines.age_days < HORIZON)
    target = recent_orders(window, n_customers)[30][buyers]
    mean, scale = features.mean(axis=0), features.std(axis=0) + 1e-9
    z = np.c_[np.ones(len(features)), (features - mean) / scale]

    def loss(w: F64) -> tuple[float, F64]:
        eta = z @ w
        mu = np.exp(np.minimum(eta, 50.0))
        penalty = np.r_[0.0, w[1:]]
        value = float((mu - target * eta).mean() + l2 * float(penalty @ penalty))
        return value, (z * (mu - target)[:, None]).mean(axis=0) + 2 * l2 * penalty

    weights = minimize(loss, np.zeros(z.shape[1]), jac=True, method="L-BFGS-B").x
    return Forecast(now, weights.tolist(), mean.tolist(), scale.tolist())
