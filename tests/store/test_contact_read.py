"""The contact read: consent, contacts counted per window, the last dismissal, impressions; many
customers read at once (batched on PostgreSQL) each get their own answer."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.store.contact_read import ContactReader
from app.store.contacts import ContactState
from app.store.tables import Contact, Customer, Feedback

NOW = datetime(2026, 5, 1, 12)


def seed(engine: Engine) -> None:
    with Session(engine) as s:
        s.add_all(
            [
                Customer(customer_id="ann", consent_email=True, consent_sms=False, created_at=NOW),
                Customer(customer_id="bob", consent_sms=True, created_at=NOW),
            ]
        )
        s.flush()
        ages = {"ann": [1, 2, 10, 40], "bob": [3]}
        for customer, days in ages.items():
            for n, age in enumerate(days):  # email, sms, email, sms
                s.add(
                    Contact(
                        customer_id=customer,
                        channel="email" if n % 2 == 0 else "sms",
                        recommendation_id=f"{customer}-{n}",
                        contacted_at=NOW - timedelta(days=age),
                    )
                )
        reactions: list[tuple[str, float]] = [
            ("dismiss", 2),
            ("dismiss", 1),
            ("impression", 1),
            ("click", 0.5),
        ]
        for n, (kind, days_ago) in enumerate(reactions):
            s.add(
                Feedback(
                    event_id=f"f{n}",
                    recommendation_id="r",
                    customer_id="ann",
                    product_id="p1",
                    type=kind,
                    occurred_at=NOW - timedelta(days=days_ago),
                )
            )
        s.commit()


def test_each_customer_gets_their_own_state(committed_engine: Engine) -> None:
    seed(committed_engine)

    async def both() -> list[ContactState]:
        reader = ContactReader(committed_engine)

        def read(customer: str, now: datetime) -> Awaitable[ContactState]:
            return reader.read(customer, now, windows=[7, 30], dismiss_days=3, fatigue_days=30)

        try:
            return list(
                await asyncio.gather(
                    read("ann", NOW),
                    read("bob", NOW),
                    read("nobody", NOW),
                    read("ann", NOW - timedelta(days=5)),  # an earlier moment
                )
            )
        finally:
            await reader.aclose()

    ann, bob, nobody, earlier = asyncio.run(both())
    assert ann.consent == {"email": True, "sms": False, "phone": False}
    assert ann.window_counts == {7: {"email": 1, "sms": 1}, 30: {"email": 2, "sms": 1}}
    assert ann.last_dismiss == NOW - timedelta(days=1)
    assert [r[1] for r in ann.reactions] == ["impression", "click"]
    assert bob.window_counts == {7: {"email": 1}, 30: {"email": 1}}
    assert bob.consent["sms"] is True
    assert (nobody.known, nobody.window_counts) == (False, {7: {}, 30: {}})
    assert earlier.window_counts == {7: {"email": 1}, 30: {"email": 1}}  # 5 days before the last
    assert earlier.last_dismiss is None
