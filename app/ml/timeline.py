"""The base month by month: customers who ordered, orders, lines and revenue (returns netted)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from app.ml.lines import Lines

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Monthly:
    months: list[str]  # "2011-03", oldest first, every month from the first line's to the last's
    customers: I64  # distinct customers with an order that month
    orders: I64
    lines: I64
    revenue: F64


def monthly(lines: Lines, end_day: float) -> Monthly:
    """``lines`` (ages counted back from ``end_day``, days since 1970) by calendar month (UTC)."""
    if len(lines) == 0:
        none = np.zeros(0, dtype=np.int64)
        return Monthly([], none, none, none, np.zeros(0))
    days = np.floor(end_day - lines.age_days).astype(np.int64)
    month = days.astype("datetime64[D]").astype("datetime64[M]")
    first, last = month.min(), month.max()
    span = np.arange(first, last + np.timedelta64(1, "M"), dtype="datetime64[M]")
    at = (month - first).astype(np.int64)
    n = len(span)

    bought = lines.quantity > 0  # a month of returns only is no order

    def distinct(codes: I64) -> I64:
        """Per month, the distinct codes among the bought lines."""
        width = int(codes.max(initial=0)) + 1
        pairs = np.unique(at[bought] * width + codes[bought])
        return np.bincount(pairs // width, minlength=n).astype(np.int64)

    return Monthly(
        months=[str(m) for m in span],
        customers=distinct(lines.customer),
        orders=distinct(lines.order),
        lines=np.bincount(at, minlength=n).astype(np.int64),
        revenue=np.bincount(at, weights=lines.spend, minlength=n).astype(np.float64),
    )
