"""Profiles and segments: each client as of a moment (RFM, segment, how likely still active, orders
expected in the next 30 days, refills due), and the customer base by segment with its Pareto curve.

RFM quintiles are over the whole base as of the moment, so each answer computes the base from this
process's columnar copy of the purchases (checked against the store at most once a second); it is
kept for the last few (store state, moment) pairs.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.columns import columns_for
from app.ml.cycles import falls_due
from app.ml.dataset import Dataset, from_day, to_day
from app.ml.forecast import HORIZON, fit_forecast
from app.ml.matrix import Lines
from app.ml.moment import SEGMENTS, Activity, Rfm, activity, pareto, rfm, segments
from app.schemas import utcnow
from app.serving import Loaded
from app.tables import Customer, Purchase

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Base:
    as_of: datetime
    data: Dataset  # purchases before as_of
    lines: Lines  # their lines, ages counted back from as_of
    act: Activity
    scores: Rfm
    segment: list[str]
    p_active: F64
    expected: F64
    by_customer: npt.NDArray[np.int64]  # line indices sorted by customer
    starts: npt.NDArray[np.int64]  # where each customer's lines begin in it
    model_product: npt.NDArray[np.int64]  # per product code of ``data``: the version's code, or -1

    def lines_of(self, code: int) -> Lines:
        return self.lines.take(self.by_customer[self.starts[code] : self.starts[code + 1]])


_CACHE: OrderedDict[tuple[Any, ...], Base] = OrderedDict()
_LOCK = threading.Lock()
_KEEP = 4


# A call without as_of is for now, which moves with every request: its base is computed once and
# reused until the store's purchases change (seen at most a second late) or NOW_MAX_AGE_SECONDS pass.
NOW_MAX_AGE_SECONDS = 60.0
_NOW: dict[tuple[Any, ...], tuple[Any, float, Base]] = {}  # (url, version) -> (mark, when, base)
_NOW_LOCK = threading.Lock()


def customer_base(session: Session, loaded: Loaded, as_of: datetime | None) -> Base:
    """The customer base as of ``as_of``, or as of now (a moment at most a minute old) for None."""
    columns = columns_for(session)
    # Profiles and segments may be a second behind the store (offers never are): a burst of profile
    # requests then costs one check of the copy, not one each.
    mark = columns.refresh(session, max_age_seconds=1.0)
    if as_of is not None:
        return _base(session, loaded, as_of, mark)
    key = (str(session.get_bind().engine.url), loaded.version)
    # One request computes it while the others wait for it, rather than each computing its own.
    with _NOW_LOCK:
        cached = _NOW.get(key)
        now = time.monotonic()
        if cached is not None:
            seen, when, base = cached
            if seen == mark and now - when < NOW_MAX_AGE_SECONDS:
                return base
        base = _base(session, loaded, utcnow(), mark, remember=False)
        _NOW[key] = (mark, now, base)
        return base


def _base(session: Session, loaded: Loaded, as_of: datetime, mark: Any, remember: bool = True) -> Base:
    forecast = loaded.forecast
    columns = columns_for(session)
    key = (str(session.get_bind().engine.url), mark, as_of, loaded.version)
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    data = columns.dataset(session, before=as_of, refresh=False)
    n = len(data.customers)
    lines = data.lines(to_day(as_of))
    act = activity(lines, n)
    if forecast is None:  # no trained version to hold one: fit it for this moment
        forecast = fit_forecast(lines, n)
    scores = rfm(act)
    base = Base(
        as_of=as_of,
        data=data,
        lines=lines,
        act=act,
        scores=scores,
        segment=segments(act, scores),
        p_active=forecast.p_active(act) if forecast is not None else np.zeros(n),
        expected=forecast.expected(act) if forecast is not None else np.zeros(n),
        by_customer=(by := np.argsort(lines.customer, kind="stable")),
        starts=np.searchsorted(lines.customer[by], np.arange(n + 1)).astype(np.int64),
        model_product=np.array(
            [loaded.model.product_index.get(pid, -1) for pid in data.products.ids], dtype=np.int64
        ),
    )
    if not remember:
        return base
    with _LOCK:
        _CACHE[key] = base
        while len(_CACHE) > _KEEP:
            _CACHE.popitem(last=False)
    return base


def _iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.isoformat(timespec="milliseconds" if moment.microsecond else "seconds") + "Z"


def _ago(as_of: datetime, days: float) -> datetime:
    """The moment ``days`` before ``as_of``, to the millisecond the store keeps (ages are differences
    of whole milliseconds, so this gives back the stored time exactly)."""
    return from_day(to_day(as_of) - float(days))


def profile(
    session: Session, loaded: Loaded, *, customer_id: str, as_of: datetime | None
) -> dict[str, Any] | None:
    """The customer's profile as of ``as_of`` (None: now); None when the store knows nothing of them."""
    customer = session.get(Customer, customer_id)
    base = customer_base(session, loaded, as_of)
    as_of = base.as_of
    code = base.data.customers.get(customer_id)
    if customer is None:  # never seen, or erased (a base a second old may still hold them)
        return None
    channel = customer.preferred_channel if customer is not None else None
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
        "first_purchase_at": _iso(_ago(as_of, act.first_age[code])),
        "last_purchase_at": _iso(_ago(as_of, act.last_age[code])),
        "recency_days": round(float(act.last_age[code]), 3),
        "frequency": int(act.orders[code]),
        "monetary": round(float(act.monetary[code]), 2),
        "segment": base.segment[code],
        "p_active": round(float(base.p_active[code]), 6),
        "expected_purchases_30d": round(expected, 6),
        "next_purchase_at": _iso(next_at),
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
            "last_purchase_at": _iso(_ago(base.as_of, age)),
            "cycle_days": round(cycle, 1),
            "due_at": _iso(base.as_of + timedelta(days=in_days)),
        }
        for in_days, pid, age, cycle in due[:limit]
    ]


def segment_summary(session: Session, loaded: Loaded, *, as_of: datetime | None) -> dict[str, Any]:
    """Customers, revenue and shares per segment, and the Pareto view of revenue, as of ``as_of``.

    Prospects are the customers in the store who have never bought anything."""
    base = customer_base(session, loaded, as_of)
    as_of = base.as_of
    buyers = base.act.buyers
    never = session.scalar(
        select(func.count())
        .select_from(Customer)
        .where(~select(Purchase.id).where(Purchase.customer_id == Customer.customer_id).exists())
    )
    revenue = base.act.monetary
    total_revenue = float(revenue[buyers].sum())
    names = np.array(base.segment, dtype=object)
    counts = {s: int(((names == s) & buyers).sum()) for s in SEGMENTS}
    counts["prospect"] = int(never or 0)
    total_customers = sum(counts.values())
    rows = []
    for s in SEGMENTS:
        spent = float(revenue[(names == s) & buyers].sum()) if s != "prospect" else 0.0
        rows.append(
            {
                "segment": s,
                "customers": counts[s],
                "revenue": round(spent, 2),
                "share_customers": round(counts[s] / total_customers, 6) if total_customers else 0.0,
                "share_revenue": round(spent / total_revenue, 6) if total_revenue else 0.0,
            }
        )
    top20, curve = pareto(revenue[buyers])
    return {
        "as_of": _iso(as_of),
        "customers": total_customers,
        "buyers": int(buyers.sum()),
        "revenue": round(total_revenue, 2),
        "segments": rows,
        "pareto": {
            "top_20_percent_revenue_share": round(top20, 6),
            "curve": [{"customers": round(c, 4), "revenue": round(r, 6)} for c, r in curve],
        },
    }
