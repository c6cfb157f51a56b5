"""Purchase lines with absolute times, cut into views as of any moment."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

from app.ml.ids import IdMap
from app.ml.matrix import Lines

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

EPOCH = datetime(1970, 1, 1)


MS_PER_DAY = 86_400_000.0


def to_day(moment: datetime) -> float:
    """Days since 1970-01-01 (naive UTC), the time unit of every array here, to the millisecond:
    a whole number of milliseconds over MS_PER_DAY, so equal moments compare equal however read."""
    return round((moment - EPOCH) / timedelta(milliseconds=1)) / MS_PER_DAY


def order_keys(customers: Sequence[str], orders: Sequence[str | None], days: F64) -> list[str]:
    """An order is its order_id, or else the customer's purchase day."""
    return [
        o if o is not None else f"{c}\x1f{int(d)}" for c, o, d in zip(customers, orders, days, strict=True)
    ]


@dataclass
class Dataset:
    customers: IdMap
    products: IdMap
    countries: list[str | None]  # per customer code
    customer: I64
    product: I64
    order: I64
    quantity: F64
    spend: F64
    day: F64

    @classmethod
    def build(
        cls,
        customer_ids: Sequence[str],
        product_ids: Sequence[str],
        quantity: Sequence[float],
        unit_price: Sequence[float],
        day: Sequence[float],
        order_ids: Sequence[str | None],
        countries: dict[str, str | None] | None = None,
        products: IdMap | None = None,
    ) -> Dataset:
        customers, cust = IdMap.encode(customer_ids)
        if products is None:
            products, prod = IdMap.encode(product_ids)
        else:
            prod = products.codes(product_ids)
        days = np.asarray(day, dtype=np.float64)
        _, order = np.unique(
            np.asarray(order_keys(customer_ids, order_ids, days), dtype=object), return_inverse=True
        )
        qty = np.asarray(quantity, dtype=np.float64)
        keep = prod >= 0
        countries = countries or {}
        return cls(
            customers=customers,
            products=products,
            countries=[countries.get(c) for c in customers.ids],
            customer=cust[keep],
            product=prod[keep],
            order=order.astype(np.int64)[keep],
            quantity=qty[keep],
            spend=(qty * np.asarray(unit_price, dtype=np.float64))[keep],
            day=days[keep],
        )

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
