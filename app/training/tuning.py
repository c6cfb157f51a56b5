"""``nbo tune``: choose the training and blend parameters on a validation window, never on the test.

Validation: learn from the purchases before ``cutoff - 30 days``, score on the 30 days up to the
cutoff (the test window after the cutoff is never looked at). Two stages keep it cheap: a seeded
random search over what needs a new fit (confidence weights, decay, the factor model), then, on the
best fit, over the blend, which only re-ranks.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from typing import Any

from app.ml.config import TrainConfig
from app.ml.dataset import Dataset
from app.ml.evaluate import Split, evaluate, make_split
from app.ml.model import Model, with_neighbours
from app.training.blend import BLEND_SPACE
from app.training.steps import fit_on, gate_score, model_ranker

WINDOW_DAYS = 30.0

FIT_SPACE: dict[str, list[Any]] = {
    "alpha": [1.0, 2.0, 4.0, 8.0],
    # Spend always counts in the confidence (the product's promise); how much is chosen here.
    "monetary_weight": [0.05, 0.15, 0.3, 0.6],
    "half_life_days": [60.0, 120.0, 180.0, 365.0],
    "repeat_half_life_days": [30.0, 60.0, 120.0],
    "factors": [32, 64, 128],
    "regularization": [0.01, 0.05, 0.2],
    "popularity_days": [14.0, 30.0, 90.0],
}


@dataclasses.dataclass
class Trial:
    config: TrainConfig
    result: dict[str, dict[str, float]]

    @property
    def score(self) -> float:
        return gate_score(self.result)


def _sample(rng: random.Random, base: TrainConfig, space: dict[str, list[Any]]) -> TrainConfig:
    return dataclasses.replace(base, **{k: rng.choice(v) for k, v in space.items()})


def tune(
    data: Dataset,
    base: TrainConfig,
    *,
    cutoff_day: float,
    fit_trials: int = 10,
    blend_trials: int = 20,
    seed: int = 7,
    progress: Callable[[Trial], None] | None = None,
) -> list[Trial]:
    """Every trial, best first; the base configuration is always the first one tried."""
    split: Split = make_split(data, cutoff_day - WINDOW_DAYS, WINDOW_DAYS)
    start = split.cutoff_day
    rng = random.Random(seed)
    trials: list[Trial] = []
    models: dict[int, Model] = {}

    def run(config: TrainConfig, model: Model) -> Trial:
        trial = Trial(config, evaluate(split, model_ranker(model, data), k=config.eval_k))
        trials.append(trial)
        models[id(trial)] = model
        if progress is not None:
            progress(trial)
        return trial

    candidates = [base] + [_sample(rng, base, FIT_SPACE) for _ in range(max(fit_trials - 1, 0))]
    for config in dict.fromkeys(candidates):  # no configuration twice
        run(config, fit_on(split.train, data, config, day=start, until_day=start))
    best = max(trials, key=lambda t: t.score)
    fitted = with_neighbours(models[id(best)])  # blends may weigh co-purchase
    blends = dict.fromkeys(_sample(rng, best.config, BLEND_SPACE) for _ in range(blend_trials))
    for config in blends:
        if config not in {t.config for t in trials}:
            # Same fit, another blend: the model's derived arrays follow its new configuration.
            run(config, dataclasses.replace(fitted, config=config))
    return sorted(trials, key=lambda t: t.score, reverse=True)
