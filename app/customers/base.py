"""The customer base as of a moment: every customer's activity, RFM scores, segment and forecast,
computed at once from the app's copy of the purchases (profiles, segments and audiences all read it).

RFM quintiles are over the whole base, so an answer about one customer needs the base. ``Bases``
keeps the last few (store state, moment, version) it computed; the app holds one (app/derived.py).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from app.clock import utcnow
from app.db import Session
from app.ml.dataset import Dataset, to_day
from app.ml.forecast import VALUE_HORIZON
from app.ml.lines import Lines
from app.ml.rfm import Activity, Rfm, activity, rfm, segments
from app.serving.loaded import Loaded
from app.store.purchase_cache import PurchaseCache

F64 = npt.NDArray[np.float64]

# Profiles and segments may be a second behind the store (offers never are): a burst of profile
# requests then costs one check of the copy, not one each.
FRESH_SECONDS = 1.0
# A call without as_of is for now, which moves with every request: its base is computed once and
# reused until the store's purchases change (seen at most a second late) or NOW_MAX_AGE_SECONDS pass.
NOW_MAX_AGE_SECONDS = 60.0
KEEP = 4


@dataclass(frozen=True)
class Base:
    as_of: datetime
    data: Dataset  # purchases before as_of
    lines: Lines  # their lines, ages counted back from as_of
    act: Activity
    scores: Rfm
    segment: list[str]
    # The served version's forecast of each customer (zeros when it has none: a version trained on
    # too few buyers, or none trained yet; serving never fits one).
    p_active: F64
    expected: F64
    orders_90d: F64  # orders expected over the next VALUE_HORIZON days
    spend_90d: F64  # and what they are expected to be worth
    by_customer: npt.NDArray[np.int64]  # line indices sorted by customer
    starts: npt.NDArray[np.int64]  # where each customer's lines begin in it
    model_product: npt.NDArray[np.int64]  # per product code of ``data``: the version's code, or -1

    def lines_of(self, code: int) -> Lines:
        return self.lines.take(self.by_customer[self.starts[code] : self.starts[code + 1]])


def compute(data: Dataset, loaded: Loaded, as_of: datetime) -> Base:
    n = len(data.customers)
    lines = data.lines(to_day(as_of))
    act = activity(lines, n)
    scores = rfm(act)
    forecast = loaded.forecast
    by = np.argsort(lines.customer, kind="stable")
    if forecast is None:
        p_active = expected = orders_90d = spend_90d = np.zeros(n)
    else:
        p_active, expected = forecast.p_active(act), forecast.expected(act)
        orders_90d = forecast.orders_over(act, VALUE_HORIZON, expected)
        spend_90d = orders_90d * forecast.order_value(act)
    return Base(
        as_of=as_of,
        data=data,
        lines=lines,
        act=act,
        scores=scores,
        segment=segments(act, scores),
        p_active=p_active,
        expected=expected,
        orders_90d=orders_90d,
        spend_90d=spend_90d,
        by_customer=by,
        starts=np.searchsorted(lines.customer[by], np.arange(n + 1)).astype(np.int64),
        model_product=np.array(
            [loaded.model.product_index.get(pid, -1) for pid in data.products.ids], dtype=np.int64
        ),
    )


class Bases:
    """The bases this process computed lately, from its copy of the purchases."""

    def __init__(self, purchases: PurchaseCache) -> None:
        self.purchases = purchases
        self._kept: OrderedDict[tuple[Any, ...], Base] = OrderedDict()
        self._lock = threading.Lock()
        self._now: dict[str | None, tuple[Any, float, Base]] = {}  # version -> (mark, when, base)
        self._now_lock = threading.Lock()

    def get(self, session: Session, loaded: Loaded, as_of: datetime | None) -> Base:
        """The base as of ``as_of``, or as of now (a moment at most a minute old) for None."""
        mark = self.purchases.refresh(session, max_age_seconds=FRESH_SECONDS, exact=False)
        if as_of is not None:
            return self._at(session, loaded, as_of, mark)
        # One request computes it while the others wait for it, rather than each computing its own.
        with self._now_lock:
            cached = self._now.get(loaded.version)
            now = self.purchases.clock()
            if cached is not None:
                seen, when, base = cached
                if seen == mark and now - when < NOW_MAX_AGE_SECONDS:
                    return base
            moment = utcnow()
            base = compute(self.purchases.dataset(session, before=moment, refresh=False), loaded, moment)
            self._now[loaded.version] = (mark, now, base)
            return base

    def _at(self, session: Session, loaded: Loaded, as_of: datetime, mark: Any) -> Base:
        key = (mark, as_of, loaded.version)
        with self._lock:
            if key in self._kept:
                self._kept.move_to_end(key)
                return self._kept[key]
        base = compute(self.purchases.dataset(session, before=as_of, refresh=False), loaded, as_of)
        with self._lock:
            self._kept[key] = base
            while len(self._kept) > KEEP:
                self._kept.popitem(last=False)
        return base
