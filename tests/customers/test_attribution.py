"""Attribution at its edges: the window, the last touch, a purchase counted once."""

from __future__ import annotations

from datetime import datetime, timedelta

from app.customers.attribution import attribute
from app.store.attribution import OfferRow

T = datetime(2026, 3, 1, 12)
WEEK = timedelta(days=7)


def offer(rec: str, when: datetime, *products: str, customer: str = "c") -> OfferRow:
    return OfferRow(rec, customer, when, products, {})


def test_the_window_includes_its_last_moment_and_nothing_after() -> None:
    offers = [offer("r1", T, "a", "b")]
    bought = [
        ("c", "a", 10.0, T - timedelta(seconds=1)),  # before the offer
        ("c", "a", 4.0, T + WEEK),  # the window's last moment
        ("c", "b", 3.0, T + WEEK + timedelta(seconds=1)),  # just after it
        ("c", "z", 9.0, T + timedelta(days=1)),  # not offered
        ("d", "a", 8.0, T + timedelta(days=1)),  # offered to someone else
    ]
    outcome = attribute(offers, bought, WEEK)
    assert set(outcome) == {"r1"}
    assert outcome["r1"].converted == {"a"}
    assert outcome["r1"].revenue == 4.0


def test_a_purchase_counts_once_for_the_latest_offer_before_it() -> None:
    offers = [
        offer("r1", T, "a"),
        offer("r2", T + timedelta(days=2), "a"),
        offer("r3", T + timedelta(days=5), "a"),
    ]
    outcome = attribute(
        offers, [("c", "a", 5.0, T + timedelta(days=3)), ("c", "a", 2.0, T + timedelta(days=6))], WEEK
    )
    assert set(outcome) == {"r2", "r3"}
    assert outcome["r2"].revenue == 5.0
    assert outcome["r3"].revenue == 2.0
    assert sum(o.revenue for o in outcome.values()) == 7.0  # every purchase once
