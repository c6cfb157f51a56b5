"""Scoring one customer's products: their sums (as of a moment) folded into the fitted model, and
the four parts of the blend, each scaled to [0, 1] for the customer: repeat (their own decayed order
frequency), cf (latent factors), knn (co-purchase) and popularity, and refills falling due.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.linalg import lapack

from app.ml.config import TrainConfig
from app.ml.cycles import due
from app.ml.lines import Sums, confidence_of
from app.ml.model import Model

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

PARTS = ("repeat", "cf", "knn", "popular", "due")


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
