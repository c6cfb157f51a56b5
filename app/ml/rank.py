"""Ranking one customer: their own history (as of a moment) folded into the fitted model.

The same function serves requests, evaluates versions and tunes parameters, so what is measured is
what is served. Scores blend four parts, each scaled to [0, 1] for the customer:
repeat (their own decayed order frequency), cf (latent factors), knn (co-purchase) and popularity.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from app.ml.matrix import Lines, confidence_values, signals
from app.ml.model import Model

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

PARTS = ("repeat", "cf", "knn", "popular")
REASONS = {"repeat": "repurchase", "cf": "similar_taste", "knn": "co_purchase", "popular": "popular"}


@dataclass
class Scored:
    total: F64  # per product
    parts: dict[str, F64]  # weighted parts, per product
    history: I64  # products the customer bought (codes)
    history_conf: F64  # their confidence


def _scaled(values: F64) -> F64:
    top = float(values.max()) if len(values) else 0.0
    if top <= 0:
        return np.zeros_like(values)
    return np.asarray(np.maximum(values, 0.0) / top, dtype=np.float64)


def fold_in(model: Model, items: I64, conf: F64) -> F64 | None:
    """The customer's factors by least squares on the item factors (Hu, Koren & Volinsky 2008)."""
    if model.item_factors is None or model.gram is None or len(items) == 0:
        return None
    y = model.item_factors[items].astype(np.float64)
    a = model.gram.astype(np.float64) + (y.T * (conf - 1.0)) @ y
    b = y.T @ conf
    return np.asarray(np.linalg.solve(a, b), dtype=np.float64)


def score(model: Model, lines: Lines) -> Scored:
    """Scores of every product for one customer whose lines (product codes of ``model``) are given."""
    cfg, n = model.config, model.n_products
    conf_sig = signals(lines, cfg.half_life_days)
    items, conf = conf_sig.product, confidence_values(conf_sig, cfg)
    rep_sig = signals(lines, cfg.repeat_half_life_days)

    repeat = np.zeros(n)
    repeat[rep_sig.product] = rep_sig.orders
    cf = np.zeros(n)
    user = fold_in(model, items, conf)
    if user is not None:
        assert model.item_factors is not None
        cf = model.item_factors.astype(np.float64) @ user
    knn = np.zeros(n)
    if len(items):
        knn = np.asarray(model.neighbours[items].T @ conf, dtype=np.float64).ravel()
    parts = {
        "repeat": cfg.repeat_weight * _scaled(repeat),
        "cf": cfg.cf_weight * _scaled(cf),
        "knn": cfg.knn_weight * _scaled(knn),
        "popular": cfg.popular_weight * _scaled(model.popularity),
    }
    total = parts["repeat"] + parts["cf"] + parts["knn"] + parts["popular"]
    return Scored(total=total, parts=parts, history=items, history_conf=conf)


def top_n(total: F64, n: int, banned: npt.NDArray[np.bool_] | None = None) -> I64:
    """Codes of the ``n`` best products, best first, leaving out banned ones and zero scores."""
    scores = total.copy()
    if banned is not None:
        scores[banned] = -np.inf
    n = min(n, len(scores))
    if n <= 0:
        return np.zeros(0, np.int64)
    candidates = np.argpartition(-scores, n - 1)[:n]
    candidates = candidates[np.argsort(-scores[candidates], kind="stable")]
    return candidates[scores[candidates] > 0].astype(np.int64)


def explain(model: Model, scored: Scored, product: int, max_because: int = 3) -> tuple[str, list[int]]:
    """The reason type (the part that weighed most) and the customer's products that led to it."""
    part = max(PARTS, key=lambda p: scored.parts[p][product])
    if scored.parts[part][product] <= 0:
        return "popular", []
    if part == "repeat":
        return REASONS[part], [product]
    if part == "popular" or len(scored.history) == 0:
        return REASONS[part], []
    if part == "knn":
        weight = np.asarray(model.neighbours[scored.history, product].todense()).ravel() * scored.history_conf
    else:
        assert model.item_factors is not None
        y = model.item_factors
        target = y[product] / (np.linalg.norm(y[product]) or 1.0)
        hist = y[scored.history]
        weight = (hist @ target) / np.maximum(np.linalg.norm(hist, axis=1), 1e-9) * scored.history_conf
    order = np.argsort(-weight, kind="stable")[:max_because]
    return REASONS[part], [int(scored.history[i]) for i in order if weight[i] > 0]


def popular_order(model: Model, country: str | None) -> I64:
    """Products by popularity, the customer's country first when it has its own ranking."""
    overall = np.argsort(-model.popularity, kind="stable").astype(np.int64)
    local = model.country_popular.get(country or "")
    if local is None or len(local) == 0:
        return overall
    rest = overall[~np.isin(overall, local)]
    return np.concatenate([local, rest])


@dataclass
class Offer:
    product: int
    score: float
    reason: str
    because: list[int]


def recommend(
    model: Model,
    lines: Lines,
    n: int,
    *,
    exclude_purchased: bool = False,
    banned: npt.NDArray[np.bool_] | None = None,
    country: str | None = None,
    explain_reasons: bool = True,
) -> tuple[str, list[Offer]]:
    """The offers for one customer: personalised scores, then popular products to fill up to ``n``.

    Returns the strategy and the offers, best first, no product twice, none banned.
    """
    banned = np.zeros(model.n_products, dtype=bool) if banned is None else banned.copy()
    bought = np.unique(lines.product[lines.quantity > 0])
    if exclude_purchased:
        banned[bought] = True
    offers: list[Offer] = []
    strategy = "popular"
    if len(bought):
        scored = score(model, lines)
        for code in top_n(scored.total, n, banned):
            reason, because = explain(model, scored, int(code)) if explain_reasons else ("", [])
            offers.append(Offer(int(code), float(scored.total[code]), reason, because))
        strategy = "personalized"
    if len(offers) < n:
        taken = banned.copy()
        taken[[o.product for o in offers]] = True
        order = popular_order(model, country)
        fill = order[~taken[order]][: n - len(offers)]
        local = model.country_popular.get(country or "")
        # Fill-ins score below every personalised offer, in popularity order.
        floor = min((o.score for o in offers), default=1.0)
        for rank, code in enumerate(fill, start=1):
            offers.append(Offer(int(code), floor * 0.5 / rank, "popular", []))
        if len(fill):
            if strategy == "personalized":
                strategy = "personalized+popular"
            elif local is not None and len(local):
                strategy = "popular_in_country"
    return strategy, offers
