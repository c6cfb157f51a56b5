"""The steps every training and evaluation shares: a fit on some lines, the offers a fitted model
makes to each customer, and the one figure versions are compared by."""

from __future__ import annotations

import numpy as np

from app.ml.baselines import in_order
from app.ml.config import TrainConfig
from app.ml.customers import CustomerSums
from app.ml.cycles import repurchase_cycles
from app.ml.dataset import Dataset
from app.ml.evaluate import Ranker, Split
from app.ml.lines import Lines
from app.ml.model import Model, fit
from app.ml.rank import popular_order, recommend


def fit_on(lines: Lines, data: Dataset, config: TrainConfig, *, day: float, until_day: float) -> Model:
    """Fit on ``lines`` (ages counted back from ``day``, every line before ``until_day``)."""
    customers = CustomerSums.build(lines, data.customers.ids, config, day, until_day)
    cycles = repurchase_cycles(lines, len(data.products))
    return fit(customers, data.countries, data.products.ids, config, cycles)


def model_ranker(model: Model, data: Dataset) -> Ranker:
    """Offers exactly as served to each trained customer, without the live store."""

    def rank(customer: int, exclude: bool, k: int) -> list[int]:
        _, offers = recommend(
            model,
            model.customers.of(customer),
            k,
            exclude_purchased=exclude,
            country=data.countries[customer],
            explain_reasons=False,
        )
        return [o.product for o in offers]

    return rank


def popularity_ranker(model: Model, split: Split) -> Ranker:
    """The model's own popularity ranking, for everyone: the floor a version must clear."""
    return in_order(popular_order(model, None), split)


def gate_score(result: dict[str, dict[str, float]]) -> float:
    """One figure for comparing versions: the mean NDCG of the repeat and discovery tasks."""
    return float(np.mean([result["repeat"]["ndcg"], result["discovery"]["ndcg"]]))
