"""From purchase lines to per customer × product signals: decayed order frequency, spend, confidence."""

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

    def take(self, mask: npt.NDArray[np.bool_]) -> Lines:
        return Lines(
            self.customer[mask],
            self.product[mask],
            self.order[mask],
            self.quantity[mask],
            self.spend[mask],
            self.age_days[mask],
        )

    def aged(self, days: float) -> Lines:
        """The same lines seen ``days`` later."""
        return Lines(self.customer, self.product, self.order, self.quantity, self.spend, self.age_days + days)


@dataclass(frozen=True)
class Signals:
    """Per (customer, product) pair with at least one order kept after returns."""

    customer: I64
    product: I64
    orders: F64  # decayed count of orders with a positive net quantity
    spend: F64  # decayed net spend, returns netted, floored at 0
    last_age: F64  # days since the latest such order


def decay(age_days: F64, half_life_days: float) -> F64:
    if half_life_days <= 0:
        return np.ones_like(age_days)
    return np.asarray(np.exp2(-np.maximum(age_days, 0.0) / half_life_days), dtype=np.float64)


def _group(*columns: I64) -> tuple[I64, I64]:
    """Group rows by several non-negative integer columns: (group of each row, the groups' columns).

    The columns are packed into one int64 key when they fit (a 1-D sort is far faster than a row sort).
    """
    sizes = [int(c.max()) + 1 if len(c) else 1 for c in columns]
    if float(np.prod([float(x) for x in sizes])) < 2.0**62:
        key = np.zeros(len(columns[0]), dtype=np.int64)
        for col, size in zip(columns, sizes, strict=True):
            key = key * size + col
        uniques, inverse = np.unique(key, return_inverse=True)
        out = np.empty((len(uniques), len(columns)), dtype=np.int64)
        for i in range(len(columns) - 1, -1, -1):
            out[:, i] = uniques % sizes[i]
            uniques = uniques // sizes[i]
        return inverse.ravel().astype(np.int64), out
    rows, inverse = np.unique(np.stack(columns, axis=1), axis=0, return_inverse=True)
    return inverse.ravel().astype(np.int64), rows.astype(np.int64)


def signals(lines: Lines, half_life_days: float) -> Signals:
    empty_i, empty_f = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
    if len(lines) == 0:
        return Signals(empty_i, empty_i, empty_f, empty_f, empty_f)
    # One group per (customer, product, order): the net of that order's lines for the product.
    inverse, groups = _group(lines.customer, lines.product, lines.order)
    net_qty = np.bincount(inverse, weights=lines.quantity, minlength=len(groups))
    net_spend = np.bincount(inverse, weights=lines.spend, minlength=len(groups))
    age = np.full(len(groups), np.inf)
    np.minimum.at(age, inverse, lines.age_days)
    weight = decay(age, half_life_days)
    bought = net_qty > 0

    pair_of_group, pairs = _group(groups[:, 0], groups[:, 1])
    orders = np.bincount(pair_of_group, weights=weight * bought, minlength=len(pairs))
    spend = np.bincount(pair_of_group, weights=weight * net_spend, minlength=len(pairs))
    last = np.full(len(pairs), np.inf)
    np.minimum.at(last, pair_of_group[bought], age[bought])
    keep = orders > 0
    return Signals(
        pairs[keep, 0].astype(np.int64),
        pairs[keep, 1].astype(np.int64),
        orders[keep].astype(np.float64),
        np.maximum(spend[keep], 0.0),
        last[keep],
    )


def confidence_values(s: Signals, config: TrainConfig) -> F64:
    strength = config.frequency_weight * np.log1p(s.orders) + config.monetary_weight * np.log1p(s.spend)
    return np.asarray(1.0 + config.alpha * strength, dtype=np.float64)


def confidence_matrix(lines: Lines, n_customers: int, n_products: int, config: TrainConfig) -> sp.csr_matrix:
    """Customers × products confidence for the latent-factor model and the co-purchase neighbours."""
    s = signals(lines, config.half_life_days)
    values = confidence_values(s, config).astype(np.float32)
    return sp.csr_matrix((values, (s.customer, s.product)), shape=(n_customers, n_products))


def repeat_matrix(lines: Lines, n_customers: int, n_products: int, config: TrainConfig) -> sp.csr_matrix:
    """Each customer's own decayed order frequency per product: who is due to buy it again."""
    s = signals(lines, config.repeat_half_life_days)
    return sp.csr_matrix((s.orders, (s.customer, s.product)), shape=(n_customers, n_products))
