from __future__ import annotations

from datetime import datetime

import numpy as np

from app.ml.dataset import to_day
from app.ml.lines import Lines
from app.ml.timeline import monthly


def lines(rows: list[tuple[int, int, float, float, datetime]], end: datetime) -> Lines:
    """(customer, order, quantity, spend, when) rows."""
    return Lines(
        customer=np.array([r[0] for r in rows], dtype=np.int64),
        product=np.zeros(len(rows), dtype=np.int64),
        order=np.array([r[1] for r in rows], dtype=np.int64),
        quantity=np.array([r[2] for r in rows]),
        spend=np.array([r[3] for r in rows]),
        age_days=np.array([to_day(end) - to_day(r[4]) for r in rows]),
    )


def test_months_count_distinct_customers_and_orders_and_net_revenue() -> None:
    end = datetime(2011, 5, 1)
    got = monthly(
        lines(
            [
                (0, 0, 2, 10.0, datetime(2011, 1, 31, 23, 59)),  # still January
                (0, 0, 1, 5.0, datetime(2011, 1, 31, 23, 59)),  # same order
                (1, 1, 1, 7.0, datetime(2011, 1, 3)),
                (0, 2, -1, -5.0, datetime(2011, 3, 1)),  # a return only: no order, revenue netted
                (1, 3, 1, 4.0, datetime(2011, 4, 30, 12)),
            ],
            end,
        ),
        to_day(end),
    )
    assert got.months == ["2011-01", "2011-02", "2011-03", "2011-04"]  # February, empty, included
    assert got.customers.tolist() == [2, 0, 0, 1]
    assert got.orders.tolist() == [2, 0, 0, 1]
    assert got.lines.tolist() == [3, 0, 1, 1]
    assert got.revenue.tolist() == [22.0, 0.0, -5.0, 4.0]


def test_no_lines_no_months() -> None:
    empty = monthly(lines([], datetime(2011, 1, 1)), to_day(datetime(2011, 1, 1)))
    assert empty.months == []
    assert len(empty.revenue) == 0
