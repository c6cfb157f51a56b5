"""Customer lookup: one customer's profile and moment, purchase history with product names, and
their current offers per channel with the contact policy's verdict and reasons in words.

The offers are a preview: computed as GET /v1/customers/{id}/offers computes them, but not logged,
so looking at a customer is not an offer made (attribution and experiments never count it)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from starlette.concurrency import run_in_threadpool

from app.clock import utcnow
from app.customers import offering
from app.customers.base import Bases
from app.customers.profiles import iso, profile
from app.db import Session
from app.serving.loaded import Loaded, Serving
from app.store.contact_read import ContactReader
from app.store.customers import CHANNELS
from app.store.offers_read import OffersReader
from app.store.purchases import history

HISTORY_LINES = 50
OFFERS = 5


def _name(catalog: Mapping[str, Mapping[str, object]], product_id: str) -> str:
    name = catalog.get(product_id, {}).get("name")
    return str(name) if name else product_id


def in_words(reason: Mapping[str, Any], catalog: Mapping[str, Mapping[str, object]]) -> str:
    """An offer's reason as a sentence for the analyst."""
    kind = reason.get("type")
    because = [_name(catalog, p) for p in reason.get("because", [])]
    listed = ", ".join(because)
    if kind == "repurchase":
        return f"you bought {listed} before" if listed else "you bought it before"
    if kind == "refill_due":
        return f"time to buy {listed} again" if listed else "a refill falls due"
    if kind in ("similar_taste", "co_purchase") and listed:
        verb = "customers who bought" if kind == "co_purchase" else "customers with your taste, who bought"
        return f"you bought {listed}; {verb} it bought this too"
    if kind == "similar_taste":
        return "customers with your taste bought it"
    return "popular with customers lately"


async def lookup(
    session: Session,
    *,
    bases: Bases,
    serving: Serving,
    loaded: Loaded,
    reader: OffersReader,
    contacts: ContactReader,
    customer_id: str,
    as_of: datetime | None,
) -> dict[str, Any]:
    """The customer as of ``as_of`` (None: now)."""
    # The base as of now that profiles share (kept up to a minute), not one of its own per look.
    found = await run_in_threadpool(profile, session, bases, loaded, customer_id=customer_id, as_of=as_of)
    base = await run_in_threadpool(bases.get, session, loaded, as_of)
    now = as_of if as_of is not None else utcnow()
    lines, total = await run_in_threadpool(history, session, customer_id, limit=HISTORY_LINES)
    catalog = serving.catalog
    preview = offering.Offering(serving, reader, None, contacts)
    channels = []
    for channel in (None, *CHANNELS):
        answer = await offering.answer(
            preview,
            loaded,
            customer_id=customer_id,
            limit=OFFERS,
            exclude_purchased=False,
            as_of=now,
            strategy="auto",
            channel=channel,
            started=now,
        )
        offers = [
            {**o, "name": _name(catalog, str(o["product_id"])), "words": in_words(o["reason"], catalog)}
            for o in answer["offers"]  # type: ignore[attr-defined]
        ]
        channels.append(
            {
                "channel": channel,
                "strategy": answer["strategy"],
                "contactable": answer.get("contactable", True),
                "blocked_by": answer.get("blocked_by"),
                "experiment": answer.get("experiment"),
                "offers": offers,
            }
        )
    names = {p: _name(catalog, p) for p in (d["product_id"] for d in (found or {}).get("due_products", []))}
    return {
        "customer_id": customer_id,
        "as_of": iso(base.as_of),
        "offers_as_of": iso(now),
        "profile": found,
        "due_names": names,
        "history": lines,
        "history_total": total,
        "channels": channels,
    }
