"""Knowing each client as of a moment: their activity, RFM scores, segment and purchase timing.

Orders are counted, not lines: an order is an order_id (or a purchase day without one) holding at
least one line with a positive quantity. Monetary is the net spend (returns netted).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from app.ml.lines import Lines, add_by, group

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

SEGMENTS = ("champions", "loyal", "potential", "new", "at_risk", "hibernating", "lost", "prospect")
WINDOWS = (14, 30, 90, 180, 365)  # days of recent orders counted per customer
PEER_WINDOWS = (30, 90)  # days within which a peer counts as active
TASTE_DAYS = 365.0  # the lines that say what a customer buys now
RENEWAL_DAYS = 30.0  # the horizon of a client's own renewal odds (see renewal)


@dataclass(frozen=True)
class Activity:
    """Per customer code; ages are days before the moment, NaN for a customer without orders."""

    orders: F64
    monetary: F64
    first_age: F64
    last_age: F64
    recent: dict[int, F64]  # per window of WINDOWS days: orders in its last that many days
    products: F64  # distinct products bought
    returns: F64  # lines returned
    lines_per_order: F64  # purchased lines per order: how broad a basket is
    momentum: F64  # how the products they buy are selling lately (see product_momentum)
    peers: dict[int, F64]  # per PEER_WINDOWS: the share of their products' other buyers active lately
    renewal: F64  # their own odds of ordering within RENEWAL_DAYS (see renewal)
    last_order_lines: F64  # purchased lines in their latest order
    last_order_spend: F64  # what those lines cost
    units_per_line: F64  # units per purchased line: a trade buyer's packs against a shopper's few
    price_per_unit: F64  # spend per unit purchased
    returned_since: F64  # 1 when they sent something back after their latest order, else 0

    @property
    def buyers(self) -> npt.NDArray[np.bool_]:
        return self.orders > 0

    def bgnbd_inputs(self) -> tuple[F64, F64, F64]:
        """(x repeat orders, t_x days from first to last order, T days from first order to now)."""
        x = np.maximum(self.orders - 1, 0)
        return x, np.nan_to_num(self.first_age - self.last_age), np.nan_to_num(self.first_age)


@dataclass(frozen=True)
class Orders:
    """Each order holding a purchased line, in no particular order."""

    customer: I64
    age: F64  # its latest purchased line's
    lines: F64  # purchased lines
    spend: F64  # what they cost


def _orders(lines: Lines) -> Orders:
    positive = lines.take(lines.quantity > 0)
    inverse, pairs = group(positive.customer, positive.order)
    age = np.full(len(pairs), np.inf)
    np.minimum.at(age, inverse, positive.age_days)
    return Orders(
        pairs[:, 0],
        age,
        np.bincount(inverse, minlength=len(pairs)).astype(np.float64),
        add_by(inverse, positive.spend, len(pairs)),
    )


def _recent(customer: I64, age: F64, n_customers: int) -> dict[int, F64]:
    return {d: np.bincount(customer[age < d], minlength=n_customers).astype(np.float64) for d in WINDOWS}


def recent_orders(lines: Lines, n_customers: int) -> dict[int, F64]:
    """Per window, each customer's orders in the last that many days."""
    orders = _orders(lines)
    return _recent(orders.customer, orders.age, n_customers)


def product_momentum(lines: Lines, n_customers: int, recent: float = 30.0, before: float = 90.0) -> F64:
    """Per customer: how the products they bought in the last TASTE_DAYS sell lately, spend-weighted.
    A product's momentum is the log ratio of its orders in the last ``recent`` days to its orders
    per ``recent`` days in the ``before`` days preceding them (a season building up lifts it)."""
    positive = lines.take(lines.quantity > 0)
    if len(positive) == 0:
        return np.zeros(n_customers)
    n_products = int(positive.product.max()) + 1
    inverse, pairs = group(positive.product, positive.order)
    product = pairs[:, 0]
    age = np.full(len(product), np.inf)
    np.minimum.at(age, inverse, positive.age_days)
    now = np.bincount(product[age < recent], minlength=n_products)
    then = np.bincount(product[(age >= recent) & (age < before)], minlength=n_products)
    growth = np.log((now + 1.0) / (then * recent / (before - recent) + 1.0))
    taste = positive.take(positive.age_days < TASTE_DAYS)
    weight = np.maximum(taste.spend, 0.0)
    total = np.bincount(taste.customer, weights=weight, minlength=n_customers)
    grown = np.bincount(taste.customer, weights=weight * growth[taste.product], minlength=n_customers)
    return np.where(total > 0, grown / np.maximum(total, 1e-12), 0.0)


def peer_activity(lines: Lines, n_customers: int, days: float) -> F64:
    """Per customer: of the other customers who bought their products in the last TASTE_DAYS (counted
    once per shared product), the share who ordered in the last ``days``: a trade's customers tend
    to come back together."""
    taste = lines.take((lines.quantity > 0) & (lines.age_days < TASTE_DAYS))
    if len(taste) == 0:
        return np.zeros(n_customers)
    n_products = int(taste.product.max()) + 1
    _, pairs = group(taste.customer, taste.product)
    customer, product = pairs[:, 0], pairs[:, 1]
    active = (np.bincount(taste.customer[taste.age_days < days], minlength=n_customers) > 0).astype(float)
    buyers = np.bincount(product, minlength=n_products).astype(np.float64)
    active_buyers = np.bincount(product, weights=active[customer], minlength=n_products)
    shared = np.bincount(customer, minlength=n_customers).astype(np.float64)
    # Each customer is left out of their own products' counts.
    others = np.bincount(customer, weights=buyers[product], minlength=n_customers) - shared
    others_active = np.bincount(customer, weights=active_buyers[product], minlength=n_customers)
    others_active -= shared * active
    return np.where(others > 0, others_active / np.maximum(others, 1.0), 0.0)


def renewal(customer: I64, age: F64, last_age: F64, days: float = RENEWAL_DAYS) -> F64:
    """Per customer: of their past gaps between orders that lasted longer than the current one (the
    days since their last order), the share that ended within ``days`` more, smoothed towards a half
    ((ended + 1) / (longer + 2)). Orders are ``customer`` and ``age`` pairs; ``last_age`` is per
    customer. A client who always comes back within a month of a lull this long is likely back soon;
    one whose gaps often ran on for months is not, whatever their average pace."""
    n_customers = len(last_age)
    order = np.lexsort((age, customer))  # each customer's orders, newest first
    who, when = customer[order], age[order]
    same = who[1:] == who[:-1]
    gap, who = (when[1:] - when[:-1])[same], who[1:][same]
    current = np.nan_to_num(last_age)[who]
    longer = gap > current
    ended = longer & (gap <= current + days)
    n_longer = np.bincount(who, weights=longer, minlength=n_customers)
    n_ended = np.bincount(who, weights=ended, minlength=n_customers)
    return np.asarray((n_ended + 1.0) / (n_longer + 2.0), dtype=np.float64)


def activity(lines: Lines, n_customers: int) -> Activity:
    """From lines whose ages count back from the moment (only lines before it)."""
    positive = lines.quantity > 0
    bought = lines.take(positive)
    placed = _orders(lines)
    orders = np.bincount(placed.customer, minlength=n_customers).astype(np.float64)
    bought_by = group(bought.customer, bought.product)[1][:, 0]
    first = np.full(n_customers, -np.inf)
    last = np.full(n_customers, np.inf)
    np.maximum.at(first, bought.customer, bought.age_days)
    np.minimum.at(last, bought.customer, bought.age_days)
    monetary = np.bincount(lines.customer, weights=lines.spend, minlength=n_customers)
    none = orders == 0
    latest = placed.age == last[placed.customer]  # ages of the same lines: exact
    purchased_lines = np.bincount(bought.customer, minlength=n_customers)
    units = add_by(bought.customer, bought.quantity, n_customers)
    paid = add_by(bought.customer, bought.spend, n_customers)
    return Activity(
        orders=orders,
        monetary=monetary.astype(np.float64),
        first_age=np.where(none, np.nan, first),
        last_age=np.where(none, np.nan, last),
        recent=_recent(placed.customer, placed.age, n_customers),
        products=np.bincount(bought_by, minlength=n_customers).astype(np.float64),
        returns=np.bincount(lines.customer[~positive], minlength=n_customers).astype(np.float64),
        lines_per_order=purchased_lines / np.maximum(orders, 1),
        momentum=product_momentum(lines, n_customers),
        peers={d: peer_activity(lines, n_customers, d) for d in PEER_WINDOWS},
        renewal=renewal(placed.customer, placed.age, np.where(none, np.nan, last)),
        last_order_lines=add_by(placed.customer[latest], placed.lines[latest], n_customers),
        last_order_spend=add_by(placed.customer[latest], placed.spend[latest], n_customers),
        units_per_line=units / np.maximum(purchased_lines, 1),
        price_per_unit=np.where(units > 0, np.maximum(paid, 0.0) / np.maximum(units, 1e-12), 0.0),
        returned_since=_returned_since(lines.take(~positive), last),
    )


def _returned_since(returned: Lines, last_age: F64) -> F64:
    """Per customer: 1 when a returned line is newer than their latest order (``last_age``, inf for
    no order). An order sent back, in part or whole, is often an order about to be placed again."""
    theirs = last_age[returned.customer]
    newer = (returned.age_days < theirs) & np.isfinite(theirs)
    flags = np.zeros(len(last_age))
    flags[returned.customer[newer]] = 1.0
    return flags


def average_ranks(values: F64) -> F64:
    """Ranks 1..n, ties sharing their mean rank (scipy.stats.rankdata's "average", without the
    import of scipy.stats, which costs a serving process a second at start-up)."""
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    starts_group = np.concatenate(([True], ordered[1:] != ordered[:-1]))
    starts = np.flatnonzero(starts_group)
    ends = np.append(starts[1:], len(values))
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = ((starts + 1 + ends) / 2.0)[np.cumsum(starts_group) - 1]
    return ranks


def quintiles(values: F64, higher_is_better: bool = True) -> I64:
    """Scores 1-5 by rank among the values (ties share a score)."""
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    ranks = average_ranks(values if higher_is_better else -values)
    return np.asarray(np.minimum(np.ceil(ranks / len(values) * 5), 5), dtype=np.int64)


@dataclass(frozen=True)
class Rfm:
    recency: I64  # 5: bought most recently
    frequency: I64  # 5: most orders
    monetary: I64  # 5: spent most


# Quintiles rank customers against each other; these hold whatever the others did. A customer whose
# latest order is older than a year scores the lowest recency, and "new" means a first order lately.
LAPSED_DAYS = 365.0
NEW_DAYS = 90.0


def rfm(act: Activity) -> Rfm:
    """RFM scores of the buyers (0 for customers without orders), quintiles over the buyers; recency
    1 for anyone whose latest order is older than LAPSED_DAYS."""
    n = len(act.orders)
    buyers = act.buyers
    scores = [np.zeros(n, dtype=np.int64) for _ in range(3)]
    for out, values, better in (
        (scores[0], act.last_age, False),
        (scores[1], act.orders, True),
        (scores[2], act.monetary, True),
    ):
        out[buyers] = quintiles(values[buyers], better)
    scores[0][buyers & (np.nan_to_num(act.last_age, nan=np.inf) > LAPSED_DAYS)] = 1
    return Rfm(*scores)


def segment(recency: int, frequency: int, orders: float, first_age: float = 0.0) -> str:
    """The named segment; the first rule that holds wins. ``first_age``: days since the first order."""
    if orders <= 0:
        return "prospect"
    if orders == 1 and recency >= 4 and first_age <= NEW_DAYS:
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
        segment(int(r), int(f), float(o), float(a))
        for r, f, o, a in zip(
            scores.recency, scores.frequency, act.orders, np.nan_to_num(act.first_age), strict=True
        )
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
