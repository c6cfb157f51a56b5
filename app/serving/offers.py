"""The decision: a customer's live history folded into the served model, business rules, fallbacks."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from datetime import datetime

import numpy as np

from app.ml.dataset import EPOCH, from_day, order_key, to_day
from app.ml.lines import Lines, sums
from app.ml.model import Model
from app.ml.rank import recommend, recommend_refills
from app.serving.loaded import Loaded
from app.store.offers_read import OffersReader
from app.store.offers_sql import HistoryRow
from app.store.recommendations import new_recommendation_id

EMPTY_LINES = Lines(*(np.zeros(0, dtype=np.int64),) * 3, *(np.zeros(0, dtype=np.float64),) * 3)


def customer_lines(model: Model, customer_id: str, rows: list[HistoryRow], clock_day: float) -> Lines:
    """A customer's purchase rows as lines over the model's products (products it never saw dropped),
    aged back from ``clock_day``."""
    index = model.product_index
    kept = [r for r in rows if r[0] in index]
    if not kept:
        return EMPTY_LINES
    days = np.array([r[3] for r in kept], dtype=np.float64)
    keys = [order_key(customer_id, r[4], d) for r, d in zip(kept, days.tolist(), strict=True)]
    _, order = np.unique(np.asarray(keys, dtype=object), return_inverse=True)
    qty = np.array([r[1] for r in kept], dtype=np.float64)
    return Lines(
        customer=np.zeros(len(kept), np.int64),
        product=np.array([index[r[0]] for r in kept], dtype=np.int64),
        order=np.asarray(order, dtype=np.int64).ravel(),
        quantity=qty,
        spend=qty * np.array([r[2] for r in kept], dtype=np.float64),
        age_days=clock_day - days,
    )


async def offers_for(
    reader: OffersReader,
    loaded: Loaded,
    *,
    customer_id: str,
    limit: int,
    exclude_purchased: bool,
    as_of: datetime,
    strategy: str = "auto",
    avoid: frozenset[str] = frozenset(),
    catalog: Mapping[str, Mapping[str, object]] | None = None,
    gate: Awaitable[frozenset[str] | None] | None = None,
) -> dict[str, object] | None:
    """The offers of one customer; ``strategy`` "refill" leads with the refills falling due (it
    offers what they bought, so it is not asked for with ``exclude_purchased``). ``gate`` is a check
    awaited while the store is read (the contact policy's): the products to avoid besides ``avoid``,
    or None when no offer may go out, and then the answer is None."""
    model = loaded.model
    trained = model.customers
    # The version holds every line before its as_of; the store is read for what came after. A request
    # for an earlier moment reads the customer's whole history before it instead.
    trained_until = from_day(trained.until_day)
    use_trained = as_of >= trained_until
    read = reader.read(customer_id=customer_id, since=trained_until if use_trained else EPOCH, before=as_of)
    if gate is None:
        snap = await read
    else:  # both at once: on PostgreSQL two round trips in flight together
        snap, allowed = await asyncio.gather(read, gate)
        if allowed is None:
            return None
        avoid = avoid | allowed
    # Recency counts from the store's latest purchase before as_of, as in training.
    clock = snap.clock_day if snap.clock_day is not None else to_day(as_of)
    later = customer_lines(model, customer_id, snap.lines, clock)
    # An erased customer leaves no trace: not while gone, nor once seen again under the same id
    # (a customer row newer than the version is not the one it was trained on).
    same_customer = snap.known and (snap.customer_since_day or 0.0) <= loaded.begun_day
    if use_trained and same_customer:
        customer = trained.at(customer_id, clock, later, model.config)
    else:
        customer = sums(later, model.config)
    banned = None
    # Inactive products, and those the contact policy says the customer is tired of.
    inactive = [c for c in map(model.product_index.get, [*snap.inactive, *avoid]) if c is not None]
    if inactive:
        banned = np.zeros(model.n_products, dtype=bool)
        banned[inactive] = True
    if strategy == "refill":
        chosen, offers = recommend_refills(model, customer, limit, banned=banned, country=snap.country)
    else:
        chosen, offers = recommend(
            model, customer, limit, exclude_purchased=exclude_purchased, banned=banned, country=snap.country
        )
    ids = model.product_ids
    answer = [
        {
            "product_id": ids[o.product],
            "score": round(o.score, 6),
            "reason": {"type": o.reason, "because": [ids[b] for b in o.because]},
        }
        for o in offers
    ]
    if len(answer) < limit:
        bought = {ids[c] for c in customer.product.tolist()} | {r[0] for r in snap.lines if r[1] > 0}
        skip = set(snap.inactive) | avoid | {str(a["product_id"]) for a in answer}
        if exclude_purchased:
            skip |= bought
        answer += fill_offers(loaded.fill, skip, limit - len(answer), [o.score for o in offers])
    if catalog:  # the catalogue's words for each product it describes
        for item in answer:
            described = catalog.get(str(item["product_id"]))
            if described:
                item.update(described)
    return {
        "recommendation_id": new_recommendation_id(),
        "customer_id": customer_id,
        "model_version": loaded.version,
        "strategy": chosen,
        "offers": answer,
    }


def fill_offers(
    popular: tuple[str, ...], skip: set[str], n: int, scores: list[float]
) -> list[dict[str, object]]:
    """The store's most bought products, after (and scored below) what the version offered: a
    version that knows few products still fills the list."""
    floor = min(scores, default=1.0)
    out: list[dict[str, object]] = []
    for product_id in popular:
        if len(out) >= n:
            break
        if product_id in skip:
            continue
        out.append(
            {
                "product_id": product_id,
                "score": round(floor * 0.5 / (len(out) + 1), 6),
                "reason": {"type": "popular", "because": []},
            }
        )
    return out
