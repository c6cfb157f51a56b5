"""From purchase lines to per customer × product sums: decayed order frequency, spend, confidence.

The sums over disjoint sets of orders add up, and decay only rescales them as time passes, so the
sums of a customer's trained history, aged to the moment of a request and merged with the lines that
came after training, equal the sums of their whole history.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from app.ml.config import TrainConfig

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Lines:
    """Purchase lines as arrays. ``order`` groups the lines of one order; ``age_days`` is measured back
    from the moment of interest (training time, or a request's ``as_of``)."""

    customer: I64
    product: I64
    order: I64
    quantity: F64
    spend: F64
    age_days: F64

    def __len__(self) -> int:
        return len(self.customer)

    def take(self, index: npt.NDArray[np.bool_] | npt.NDArray[np.int64]) -> Lines:
        """The lines a mask or an array of positions selects."""
        return Lines(
            self.customer[index],
            self.product[index],
            self.order[index],
            self.quantity[index],
            self.spend[index],
            self.age_days[index],
        )

    def aged(self, days: float) -> Lines:
        """The same lines seen ``days`` later."""
        return Lines(self.customer, self.product, self.order, self.quantity, self.spend, self.age_days + days)


@dataclass(frozen=True)
class Sums:
    """Per (customer, product) pair, sorted by customer then product."""

    customer: I64
    product: I64
    orders: F64  # orders with a positive net quantity, decayed with half_life_days
    spend: F64  # net spend, returns netted (negative when returns outweigh), decayed with half_life_days
    repeat: F64  # the same orders, decayed with repeat_half_life_days
    bought: F64  # lines with a positive quantity, not decayed (0: never bought, e.g. a return only)
    last_age: F64  # days since the latest order with a positive net quantity (inf: none)

    def __len__(self) -> int:
        return len(self.customer)

    def take(self, index: npt.NDArray[np.bool_] | slice) -> Sums:
        return Sums(
            self.customer[index],
            self.product[index],
            self.orders[index],
            self.spend[index],
            self.repeat[index],
            self.bought[index],
            self.last_age[index],
        )

    def purchased(self) -> I64:
        """Products the customer(s) ever bought."""
        return self.product[self.bought > 0]


def decay(age_days: F64, half_life_days: float) -> F64:
    if half_life_days <= 0:
        return np.ones_like(age_days)
    return np.asarray(np.exp2(-np.maximum(age_days, 0.0) / half_life_days), dtype=np.float64)


def group(*columns: I64) -> tuple[I64, I64]:
    """Group rows by several non-negative integer columns: (group of each row, the groups' columns),
    groups in lexicographic order.

    The columns are packed into one int64 key when they fit (a 1-D sort is far faster than a row sort).
    """
    sizes = [int(c.max()) + 1 if len(c) else 1 for c in columns]
    if float(np.prod([float(x) for x in sizes])) < 2.0**62:
        key = columns[0].astype(np.int64)
        for col, size in zip(columns[1:], sizes[1:], strict=True):
            key *= size
            key += col
        uniques, inverse = np.unique(key, return_inverse=True)
        # Column-major: each column of the groups is then a contiguous array.
        out = np.empty((len(uniques), len(columns)), dtype=np.int64, order="F")
        for i in range(len(columns) - 1, 0, -1):
            uniques, out[:, i] = np.divmod(uniques, sizes[i])
        out[:, 0] = uniques
        return inverse.ravel().astype(np.int64, copy=False), out
    rows, inverse = np.unique(np.stack(columns, axis=1), axis=0, return_inverse=True)
    return inverse.ravel().astype(np.int64), rows.astype(np.int64)


def add_by(groups: I64, weights: npt.ArrayLike, n: int) -> F64:
    """Per group, the sum of its rows' weights."""
    return np.bincount(groups, weights=weights, minlength=n).astype(np.float64)


EMPTY = Sums(*(np.zeros(0, dtype=np.int64),) * 2, *(np.zeros(0, dtype=np.float64),) * 5)


def sums(lines: Lines, config: TrainConfig) -> Sums:
    """Sum the lines per (customer, product); the lines of one order are netted first."""
    if len(lines) == 0:
        return EMPTY
    inverse, groups = group(lines.customer, lines.product, lines.order)
    net_qty = add_by(inverse, lines.quantity, len(groups))
    net_spend = add_by(inverse, lines.spend, len(groups))
    positive_lines = add_by(inverse, lines.quantity > 0, len(groups))
    age = np.full(len(groups), np.inf)
    np.minimum.at(age, inverse, lines.age_days)
    weight = decay(age, config.half_life_days)
    positive = net_qty > 0

    # The groups are sorted by customer, product, order: each pair is a run of consecutive groups.
    starts = np.ones(len(groups), dtype=bool)
    starts[1:] = (groups[1:, 0] != groups[:-1, 0]) | (groups[1:, 1] != groups[:-1, 1])
    pair_of_group = np.cumsum(starts) - 1
    pairs = groups[starts, :2]
    n = len(pairs)
    last = np.full(n, np.inf)
    np.minimum.at(last, pair_of_group[positive], age[positive])
    return Sums(
        customer=pairs[:, 0].astype(np.int64),
        product=pairs[:, 1].astype(np.int64),
        orders=add_by(pair_of_group, weight * positive, n),
        spend=add_by(pair_of_group, weight * net_spend, n),
        repeat=add_by(pair_of_group, decay(age, config.repeat_half_life_days) * positive, n),
        bought=add_by(pair_of_group, positive_lines, n),
        last_age=last,
    )


def aged(s: Sums, days: float, config: TrainConfig) -> Sums:
    """The same sums seen ``days`` later: decay rescales every decayed sum alike."""
    if days == 0:
        return s
    f = float(decay(np.array([days]), config.half_life_days)[0])
    r = float(decay(np.array([days]), config.repeat_half_life_days)[0])
    return Sums(s.customer, s.product, s.orders * f, s.spend * f, s.repeat * r, s.bought, s.last_age + days)


def merge(a: Sums, b: Sums) -> Sums:
    """The sums of two disjoint sets of orders."""
    if len(b) == 0:
        return a
    if len(a) == 0:
        return b
    cat = [np.concatenate([x, y]) for x, y in zip(_fields(a), _fields(b), strict=True)]
    inverse, pairs = group(cat[0], cat[1])
    n = len(pairs)
    last = np.full(n, np.inf)
    np.minimum.at(last, inverse, cat[6])
    orders, spend, repeat, bought = (add_by(inverse, col, n) for col in cat[2:6])
    return Sums(
        pairs[:, 0].astype(np.int64), pairs[:, 1].astype(np.int64), orders, spend, repeat, bought, last
    )


def _fields(s: Sums) -> tuple[npt.NDArray[np.generic], ...]:
    return (s.customer, s.product, s.orders, s.spend, s.repeat, s.bought, s.last_age)


def confidence_of(orders: F64, spend: F64, config: TrainConfig) -> F64:
    """Confidence from (decayed) order frequency and net spend; returns count as no spend."""
    strength = config.frequency_weight * np.log1p(orders) + config.monetary_weight * np.log1p(
        np.maximum(spend, 0.0)
    )
    return np.asarray(1.0 + config.alpha * strength, dtype=np.float64)


def confidence_matrix(s: Sums, n_customers: int, n_products: int, config: TrainConfig) -> sp.csr_matrix:
    """Customers × products confidence for the latent-factor model and the co-purchase neighbours:
    every pair with at least one order kept after returns."""
    kept = s.take(s.orders > 0)
    values = confidence_of(kept.orders, kept.spend, config).astype(np.float32)
    return sp.csr_matrix((values, (kept.customer, kept.product)), shape=(n_customers, n_products))
