"""A client's profile as of a moment: RFM, segment, how likely still active, orders expected in the
next 30 days, their value over the next 90 (orders and spend expected), and the refills falling
due. The figures come from the customer base (app/customers/base.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

from app.customers.base import Base, Bases
from app.db import Session
from app.ml.cycles import falls_due
from app.ml.dataset import from_day, to_day
from app.ml.forecast import HORIZON
from app.ml.lines import Lines
from app.serving.loaded import Loaded
from app.store.customers import preferred_channel

F64 = npt.NDArray[np.float64]


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.isoformat(timespec="milliseconds" if moment.microsecond else "seconds") + "Z"


def _ago(as_of: datetime, days: float) -> datetime:
    """The moment ``days`` before ``as_of``, to the millisecond the store keeps (ages are differences
    of whole milliseconds, so this gives back the stored time exactly)."""
    return from_day(to_day(as_of) - float(days))


def profile(
    session: Session, bases: Bases, loaded: Loaded, *, customer_id: str, as_of: datetime | None
) -> dict[str, Any] | None:
    """The customer's profile as of ``as_of`` (None: now); None when the store knows nothing of them."""
    known, channel = preferred_channel(session, customer_id)
    base = bases.get(session, loaded, as_of)
    as_of = base.as_of
    code = base.data.customers.get(customer_id)
    if not known:  # never seen, or erased (a base a second old may still hold them)
        return None
    if code is None or base.act.orders[code] == 0:  # known, but no order before as_of
        return {
            "customer_id": customer_id,
            "first_purchase_at": None,
            "last_purchase_at": None,
            "recency_days": None,
            "frequency": 0,
            "monetary": round(float(base.act.monetary[code]), 2) if code is not None else 0.0,
            "segment": "prospect",
            "p_active": 0.0,
            "expected_purchases_30d": 0.0,
            "expected_orders_90d": 0.0,
            "expected_spend_90d": 0.0,
            "next_purchase_at": None,
            "preferred_channel": channel,
            "rfm": {"recency": 0, "frequency": 0, "monetary": 0},
            "due_products": [],
        }
    act, scores = base.act, base.scores
    expected = float(base.expected[code])
    # The expected gap to the next order at that rate; none when less than one order a year is expected.
    next_at = None
    if expected * 365.0 / HORIZON >= 1.0:
        next_at = as_of + timedelta(days=min(HORIZON / expected, 365.0))
    return {
        "customer_id": customer_id,
        "first_purchase_at": iso(_ago(as_of, act.first_age[code])),
        "last_purchase_at": iso(_ago(as_of, act.last_age[code])),
        "recency_days": round(float(act.last_age[code]), 3),
        "frequency": int(act.orders[code]),
        "monetary": round(float(act.monetary[code]), 2),
        "segment": base.segment[code],
        "p_active": round(float(base.p_active[code]), 6),
        "expected_purchases_30d": round(expected, 6),
        "expected_orders_90d": round(float(base.orders_90d[code]), 6),
        "expected_spend_90d": round(float(base.spend_90d[code]), 2),
        "next_purchase_at": iso(next_at),
        "preferred_channel": channel,
        "rfm": {
            "recency": int(scores.recency[code]),
            "frequency": int(scores.frequency[code]),
            "monetary": int(scores.monetary[code]),
        },
        "due_products": due_products(base, loaded, code),
    }


@dataclass(frozen=True)
class Refills:
    """(customer, product) pairs whose refill falls due: codes, days since the last order, cycle."""

    customer: npt.NDArray[np.int64]
    product: npt.NDArray[np.int64]
    age: F64
    cycle: F64

    @property
    def in_days(self) -> F64:
        return self.cycle - self.age


def refills_due(base: Base, loaded: Loaded, lines: Lines, days: float) -> Refills:
    """The pairs of ``lines`` (the base's, or some of them) bought at least REFILLED times whose
    refill falls due within ``days`` or fell due within one cycle: each pair's last order + the
    product's repurchase cycle."""
    cycles = loaded.model.cycles
    bought = lines.take(lines.quantity > 0)
    if cycles is None or len(bought) == 0:
        none = np.zeros(0, dtype=np.int64)
        return Refills(none, none, np.zeros(0), np.zeros(0))
    model_product = base.model_product[bought.product]
    known = model_product >= 0
    customer, product = bought.customer[known], bought.product[known]
    age, cycle = bought.age_days[known], cycles[model_product[known]]
    # Each pair's last order: the youngest line of its group.
    pair = customer * len(base.data.products) + product
    order = np.lexsort((age, pair))
    _, first, times = np.unique(pair[order], return_index=True, return_counts=True)
    latest = order[first]
    age, cycle = age[latest], cycle[latest]
    due = falls_due(age, cycle, times, days)
    return Refills(customer[latest][due], product[latest][due], age[due], cycle[due])


def due_products(base: Base, loaded: Loaded, code: int, limit: int = 10) -> list[dict[str, Any]]:
    """Products the customer buys again whose refill falls due within the next 30 days (or has
    fallen due within one cycle), soonest first."""
    refills = refills_due(base, loaded, base.lines_of(code), HORIZON)
    ids = base.data.products.ids
    due = sorted(
        zip(
            refills.in_days.tolist(),
            [ids[p] for p in refills.product.tolist()],
            refills.age.tolist(),
            refills.cycle.tolist(),
            strict=True,
        )
    )
    return [
        {
            "product_id": pid,
            "last_purchase_at": iso(_ago(base.as_of, age)),
            "cycle_days": round(cycle, 1),
            "due_at": iso(base.as_of + timedelta(days=in_days)),
        }
        for in_days, pid, age, cycle in due[:limit]
    ]
