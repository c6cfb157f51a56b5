"""Ranking one customer: their sums (as of a moment) folded into the fitted model.

The same function serves requests, evaluates versions and tunes parameters, so what is measured is
what is served. Scores blend four parts, each scaled to [0, 1] for the customer:
repeat (their own decayed order frequency), cf (latent factors), knn (co-purchase) and popularity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.linalg import lapack

from app.ml.config import TrainConfig
from app.ml.cycles import due, falls_due
from app.ml.matrix import Sums, confidence_of
from app.ml.model import Model

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

PARTS = ("repeat", "cf", "knn", "popular", "due")
REFILL_DAYS = 30.0
REASONS = {
    "repeat": "repurchase",
    "cf": "similar_taste",
    "knn": "co_purchase",
    "popular": "popular",
    "due": "refill_due",
}


@dataclass
class Gathered:
    """The neighbours of the customer's products: row i holds history product i's neighbours."""

    target: npt.NDArray[np.int32]  # product codes (history × K)
    weight: F32  # similarity × the history product's confidence (0 for padding)


@dataclass
class Scored:
    total: F32  # per product: the weighted sum of the scaled parts
    history: I64  # products the customer bought (codes), with an order kept after returns
    history_conf: F64  # their confidence
    neighbours: Gathered
    # The parts before scaling (cf and knn per product, repeat per product of the customer's sums)
    # and what scales each to its weight: a part's contribution is raw × scale.
    cf: F32
    knn: F32
    repeat: Sums
    due: F64  # per product of ``repeat``: its repurchase frequency × how due a refill is
    scale: dict[str, float]

    def parts_at(self, model: Model, products: I64) -> F64:
        """The weighted parts (rows in PARTS order) of some products."""
        # One customer's sums are sorted by product.
        mine = self.repeat.product
        at = np.minimum(np.searchsorted(mine, products), max(len(mine) - 1, 0))
        found = mine[at] == products if len(mine) else np.zeros(len(products), dtype=bool)
        parts = np.zeros((len(PARTS), len(products)))
        if len(mine):
            parts[0] = np.where(found, self.repeat.repeat[at], 0.0) * self.scale["repeat"]
            parts[4] = np.where(found, self.due[at], 0.0) * self.scale["due"]
        if len(self.cf):
            parts[1] = self.cf[products] * self.scale["cf"]
        if len(self.knn):
            parts[2] = self.knn[products] * self.scale["knn"]
        parts[3] = model.popular_part[products]
        return parts


def _scale(weight: float, values: npt.NDArray[np.floating[Any]]) -> float:
    """What scales a part to [0, weight] for this customer (0 when it has nothing positive)."""
    top = float(values.max()) if len(values) else 0.0
    return weight / top if top > 0 else 0.0


NOTHING_GATHERED = Gathered(np.zeros((0, 0), dtype=np.int32), np.zeros((0, 0), dtype=np.float32))


def gather_rows(model: Model, rows: I64, weights: F32) -> Gathered:
    """The neighbours of ``rows``, each scaled by its row's weight."""
    return Gathered(model.neighbour_ids[rows], model.neighbour_weights[rows] * weights[:, None])


def fold_in(model: Model, items: I64, conf: F32) -> F32 | None:
    """The customer's factors by least squares on the item factors (Hu, Koren & Volinsky 2008)."""
    if model.item_factors is None or model.gram is None or len(items) == 0:
        return None
    y = model.item_factors[items]
    a = model.gram + (y.T * (conf - 1.0)) @ y
    b = y.T @ conf
    # A is symmetric positive definite: a Cholesky solve straight from LAPACK, without the checks of
    # np.linalg.solve (a third of the cost at this size).
    _, x, info = lapack.sposv(a, b)
    if info != 0:
        x = np.linalg.lstsq(a, b, rcond=None)[0]
    return np.asarray(x, dtype=np.float32)


def co_purchase_weight(cfg: TrainConfig) -> float:
    """The co-purchase part's weight: with item_knn, the neighbours are the collaborative model and
    take its weight too."""
    return cfg.knn_weight + (cfg.cf_weight if cfg.algorithm == "item_knn" else 0.0)


def score(model: Model, s: Sums) -> Scored:
    """Scores of every product for one customer, given their sums over the model's products.

    Each part is scaled to [0, 1] for the customer and weighted; the work is done in float32 on as
    few full-length arrays as possible (this runs on every request).
    """
    cfg, n = model.config, model.n_products
    kept = s.orders > 0
    items = s.product[kept]
    conf = confidence_of(s.orders[kept], s.spend[kept], cfg).astype(np.float32)
    total = model.popular_part.copy()
    cf = np.zeros(0, np.float32)
    cf_scale = 0.0
    user = fold_in(model, items, conf)
    if user is not None:
        assert model.item_factors is not None
        cf = model.item_factors @ user
        np.maximum(cf, 0.0, out=cf)
        cf_scale = _scale(cfg.cf_weight, cf)
        if cf_scale:
            total += cf * np.float32(cf_scale)
    knn = np.zeros(0, np.float32)  # none when the blend does not weigh co-purchase
    knn_scale = 0.0
    knn_weight = co_purchase_weight(cfg)
    gathered = NOTHING_GATHERED
    if knn_weight > 0:
        gathered = gather_rows(model, items, conf)
    if gathered.target.size:
        knn = np.bincount(gathered.target.ravel(), weights=gathered.weight.ravel(), minlength=n).astype(
            np.float32
        )
        knn_scale = _scale(knn_weight, knn)
        if knn_scale:
            total += knn * np.float32(knn_scale)
    # One customer's sums hold each product once: adding at their products needs no np.add.at.
    repeat_scale = _scale(cfg.repeat_weight, s.repeat)
    if repeat_scale:
        total[s.product] += (s.repeat * repeat_scale).astype(np.float32)
    due_now = np.zeros(len(s))
    due_scale = 0.0
    if cfg.due_weight > 0 and model.cycles is not None:
        due_now = s.repeat * due(s.last_age, model.cycles[s.product])
        due_scale = _scale(cfg.due_weight, due_now)
        if due_scale:
            total[s.product] += (due_now * due_scale).astype(np.float32)
    return Scored(
        total=total,
        history=items,
        history_conf=conf.astype(np.float64),
        neighbours=gathered,
        cf=cf,
        knn=knn,
        repeat=s,
        due=due_now,
        scale={"cf": cf_scale, "knn": knn_scale, "repeat": repeat_scale, "due": due_scale},
    )


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
            g = scored.neighbours
            sources, slots = np.nonzero(g.target == product)
            weight = g.weight[sources, slots].astype(np.float64)
        elif part == "cf" and cosine is not None:
            weight = cosine[:, j] * scored.history_conf
        if weight is None:
            out.append((REASONS[part], []))
            continue
        top = np.argsort(-weight, kind="stable")[:max_because]
        out.append((REASONS[part], [int(scored.history[sources[i]]) for i in top if weight[i] > 0]))
    return out


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
