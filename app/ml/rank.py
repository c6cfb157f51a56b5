"""Ranking one customer: the scored parts blended, the top products with their reasons, and the
popularity order that fills a list.

The same function serves requests, evaluates versions and tunes parameters, so what is measured is
what is served.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from app.ml.cycles import falls_due
from app.ml.lines import Sums
from app.ml.model import Model
from app.ml.score import PARTS, Gathered, Scored, score

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


REFILL_DAYS = 30.0
REASONS = {
    "repeat": "repurchase",
    "cf": "similar_taste",
    "knn": "co_purchase",
    "popular": "popular",
    "due": "refill_due",
}


def top_n(total: npt.NDArray[np.floating[Any]], n: int, banned: npt.NDArray[np.bool_] | None = None) -> I64:
    """Codes of the ``n`` best products, best first, leaving out banned ones and zero scores."""
    scores = total if banned is None else np.where(banned, -np.inf, total)
    n = min(n, len(scores))
    if n <= 0:
        return np.zeros(0, np.int64)
    candidates = np.argpartition(-scores, n - 1)[:n]
    candidates = candidates[np.argsort(-scores[candidates], kind="stable")]
    return candidates[scores[candidates] > 0].astype(np.int64)


def explain(model: Model, scored: Scored, products: I64, max_because: int = 3) -> list[tuple[str, list[int]]]:
    """Per product: the reason type (the part that weighed most) and the customer's products behind it."""
    stacked = scored.parts_at(model, products)
    best = np.argmax(stacked, axis=0)
    cosine: F64 | None = None
    if model.unit_factors is not None and len(scored.history) and (best == 1).any():  # cf
        cosine = np.asarray(model.unit_factors[scored.history] @ model.unit_factors[products].T, np.float64)
    knn_sources = _sources(scored.neighbours, products[best == PARTS.index("knn")])
    out: list[tuple[str, list[int]]] = []
    for j, product in enumerate(products.tolist()):
        part = PARTS[int(best[j])]
        if stacked[best[j], j] <= 0:
            out.append(("popular", []))
            continue
        if part in ("repeat", "due"):
            out.append((REASONS[part], [product]))
            continue
        weight: F64 | None = None
        sources = np.arange(len(scored.history))
        if part == "knn":
            sources, weight = knn_sources.get(product, (sources[:0], None))
        elif part == "cf" and cosine is not None:
            weight = cosine[:, j] * scored.history_conf
        if weight is None:
            out.append((REASONS[part], []))
            continue
        top = np.argsort(-weight, kind="stable")[:max_because]
        out.append((REASONS[part], [int(scored.history[sources[i]]) for i in top if weight[i] > 0]))
    return out


def _sources(g: Gathered, products: I64) -> dict[int, tuple[I64, F64]]:
    """Per product of ``products``: the history rows whose neighbours hold it, and their weights.
    One pass over the customer's neighbours for all of them (a heavy buyer's are thousands)."""
    if len(products) == 0 or g.target.size == 0:
        return {}
    wanted = np.unique(products)
    flat = g.target.ravel()
    at = np.minimum(np.searchsorted(wanted, flat), len(wanted) - 1)
    hits = np.flatnonzero(wanted[at] == flat)
    rows, found = hits // g.target.shape[1], flat[hits]
    weights = g.weight.ravel()[hits].astype(np.float64)
    return {int(p): (rows[found == p], weights[found == p]) for p in wanted.tolist()}


def popular_order(model: Model, country: str | None) -> I64:
    """Products by popularity, the customer's country first when it has its own ranking."""
    local = model.country_popular.get(country or "")
    if local is None or len(local) == 0:
        return model.popular_rank
    overall = model.popular_rank
    return np.concatenate([local, overall[~np.isin(overall, local)]])


@dataclass
class Offer:
    product: int
    score: float
    reason: str
    because: list[int]


def recommend(
    model: Model,
    s: Sums,
    n: int,
    *,
    exclude_purchased: bool = False,
    banned: npt.NDArray[np.bool_] | None = None,
    country: str | None = None,
    explain_reasons: bool = True,
) -> tuple[str, list[Offer]]:
    """The offers for one customer (``s``: their sums): personalised scores, then popular products to
    fill up to ``n``. Returns the strategy and the offers, best first, no product twice, none banned.
    """
    bought = s.purchased()
    if exclude_purchased and len(bought):
        banned = np.zeros(model.n_products, dtype=bool) if banned is None else banned.copy()
        banned[bought] = True
    offers: list[Offer] = []
    strategy = "popular"
    if len(bought):
        scored = score(model, s)
        codes = top_n(scored.total, n, banned)
        reasons = explain(model, scored, codes) if explain_reasons else [("", [])] * len(codes)
        for code, (reason, because) in zip(codes.tolist(), reasons, strict=True):
            offers.append(Offer(code, float(scored.total[code]), reason, because))
        strategy = "personalized"
    if len(offers) < n:
        taken = np.zeros(model.n_products, dtype=bool) if banned is None else banned.copy()
        taken[[o.product for o in offers]] = True
        order = popular_order(model, country)
        fill = order[~taken[order]][: n - len(offers)]
        local = model.country_popular.get(country or "")
        # Fill-ins score below every personalised offer, in popularity order.
        floor = min((o.score for o in offers), default=1.0)
        for rank, code in enumerate(fill.tolist(), start=1):
            offers.append(Offer(code, floor * 0.5 / rank, "popular", []))
        if len(fill):
            if strategy == "personalized":
                strategy = "personalized+popular"
            elif local is not None and len(local):
                strategy = "popular_in_country"
    return strategy, offers


def recommend_refills(
    model: Model,
    s: Sums,
    n: int,
    *,
    banned: npt.NDArray[np.bool_] | None = None,
    country: str | None = None,
    days: float = REFILL_DAYS,
    explain_reasons: bool = True,
) -> tuple[str, list[Offer]]:
    """The moment's offers: the products the customer bought at least REFILLED times whose refill
    falls due within ``days`` (or fell due within the last cycle), best scored first, then the usual
    offers to fill up to ``n``. The strategy is "refill" (+ the filling's) when any refill led, else
    the usual one."""
    refills = np.zeros(0, dtype=np.int64)
    if model.cycles is not None and len(s):
        due_now = falls_due(s.last_age, model.cycles[s.product], s.bought, days)
        refills = s.product[due_now & (s.orders > 0)]
    if banned is not None:
        refills = refills[~banned[refills]]
    if len(refills) == 0:
        return recommend(model, s, n, banned=banned, country=country, explain_reasons=explain_reasons)
    total = score(model, s).total
    chosen = refills[np.argsort(-total[refills], kind="stable")][:n]
    offers = [Offer(code, float(total[code]), REASONS["due"], [code]) for code in chosen.tolist()]
    if len(offers) == n:
        return "refill", offers
    taken = np.zeros(model.n_products, dtype=bool) if banned is None else banned.copy()
    taken[chosen] = True
    strategy, rest = recommend(
        model, s, n - len(offers), banned=taken, country=country, explain_reasons=explain_reasons
    )
    # The rest rank below every refill, in their own order.
    floor, top = min(o.score for o in offers), max((o.score for o in rest), default=1.0)
    for o in rest:
        o.score = floor * 0.5 * o.score / top if top > 0 else 0.0
    return f"refill+{strategy}", offers + rest
