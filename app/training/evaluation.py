"""``nbo evaluate``: the time-split protocol on the store's purchases, nbo beside the standard
baselines, every one on the same split and metrics.

The protocol: cutoff = the latest purchase − 30 days (or a given moment); every method learns from
the purchases before it; the repeat task asks every customer who bought on both sides for what they
bought after, the discovery task for what they bought after and never before (with
``exclude_purchased``). nbo's offers are those ``GET /offers`` would make: ``recommend`` on a version
fitted on the purchases before the cutoff (with the blend it would choose), from that version's own
sums of each customer.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from app.ml import baselines
from app.ml.config import TrainConfig
from app.ml.dataset import Dataset, from_day
from app.ml.evaluate import Ranker, evaluate, make_split
from app.training.blend import choose_blend
from app.training.steps import fit_on, model_ranker

WINDOW_DAYS = 30.0
RANKERS = ("nbo", "popularity", "own_most_bought", "als_defaults", "item_knn_bm25")


def evaluate_dataset(
    data: Dataset, config: TrainConfig, *, cutoff_day: float | None = None, k: int = 10
) -> dict[str, Any]:
    """The protocol's figures for nbo and each baseline: {ranker: {task: {metric: value}}}."""
    cutoff = data.last_day - WINDOW_DAYS if cutoff_day is None else cutoff_day
    # The blend a version trained at the cutoff would choose (app/training/blend.py).
    choice = choose_blend(data, config, clock=data.clock(cutoff))
    config = choice.config
    split = make_split(data, cutoff, np.inf)  # the test part: everything from the cutoff on
    n_customers, n_products = len(data.customers), len(data.products)
    model = fit_on(split.train, data, config, day=cutoff, until_day=cutoff)
    rankers: dict[str, Ranker] = {
        "nbo": model_ranker(model, data),
        "popularity": baselines.popularity(split, n_products),
        "own_most_bought": baselines.own_most_bought(split, n_customers, n_products),
        "als_defaults": baselines.als_defaults(split, n_customers, n_products, config.random_state),
        "item_knn_bm25": baselines.item_knn_bm25(split, n_customers, n_products),
    }
    return {
        "cutoff": from_day(cutoff).isoformat() + "Z",
        "k": k,
        "customers": {t.name: len(t.truth) for t in split.tasks},
        "results": {name: evaluate(split, rank, k=k) for name, rank in rankers.items()},
        "config": config.to_dict(),
        "tuning": choice.record,
    }
