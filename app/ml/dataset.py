"""Purchase lines with absolute times, cut into views as of any moment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

from app.ml.ids import IdMap
from app.ml.lines import Lines

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

EPOCH = datetime(1970, 1, 1)


MS_PER_DAY = 86_400_000.0


def to_day(moment: datetime) -> float:
    """Days since 1970-01-01 (naive UTC), the time unit of every array here, to the millisecond:
    a whole number of milliseconds over MS_PER_DAY, so equal moments compare equal however read."""
    return round((moment - EPOCH) / timedelta(milliseconds=1)) / MS_PER_DAY


def from_day(day: float) -> datetime:
    """The moment ``day`` stands for (naive UTC), to the millisecond: ``from_day(to_day(t)) == t`` for
    any ``t`` in whole milliseconds."""
    return EPOCH + timedelta(milliseconds=round(day * MS_PER_DAY))


def order_key(customer_id: str, order_id: str | None, day: float) -> str:
    """An order is its order_id, or else the customer's purchase day."""
    return order_id if order_id is not None else f"{customer_id}\x1f{int(day)}"


@dataclass
class Dataset:
    """Every purchase line as arrays (app/store/purchase_cache.py reads the store's). An order is its
    order_id, or else the customer's purchase day."""

    customers: IdMap
    products: IdMap
    countries: list[str | None]  # per customer code
    customer: I64
    product: I64
    order: I64
    quantity: F64
    spend: F64
    day: F64

    def lines(self, before_day: float, after_day: float = -np.inf) -> Lines:
        """Lines in [after_day, before_day), aged back from ``before_day``."""
        m = (self.day < before_day) & (self.day >= after_day)
        return Lines(
            self.customer[m],
            self.product[m],
            self.order[m],
            self.quantity[m],
            self.spend[m],
            before_day - self.day[m],
        )

    def clock(self, as_of_day: float) -> float:
        """The moment recency is measured from: ``as_of``, or the latest purchase before it when the
        store has been quiet since (so an old data set is not all equally ancient)."""
        before = self.day[self.day < as_of_day]
        return min(as_of_day, float(before.max())) if len(before) else as_of_day

    @property
    def last_day(self) -> float:
        return float(self.day.max()) if len(self.day) else 0.0
