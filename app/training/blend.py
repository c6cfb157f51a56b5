"""The blend chosen per store at training: the parts' weights that rank best on the store's own
validation window, the ``eval_window_days`` before the evaluation's (which stays unseen, so the
version's reported figures are not the ones it was chosen on). A fixed number of trials from a fixed
seed: the same store gives the same choice. The configured blend stays unless another beats it
beyond the noise, on that window and on the one before. A store whose window holds too few customers
to tell blends apart gets the robust blend instead.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from app.ml.config import TrainConfig
from app.ml.dataset import Dataset, from_day
from app.ml.evaluate import Split, make_split, ndcg_by_customer
from app.ml.model import with_neighbours
from app.training.steps import fit_on, model_ranker

BLEND_SPACE: dict[str, list[Any]] = {
    "cf_weight": [0.25, 0.5, 1.0, 1.5],
    "knn_weight": [0.0, 0.1, 0.25, 0.5, 1.0],
    "popular_weight": [0.0, 0.05, 0.15, 0.3],
    "due_weight": [0.0, 0.1, 0.25, 0.5],
}
BLEND_FIELDS = tuple(BLEND_SPACE)

# Below this many customers in either task of the window, NDCG@10's noise (its standard deviation
# over customers is about 0.3, so ±0.06 at 100) is as large as the gaps between blends.
MIN_CUSTOMERS = 100
# What a store too small to measure gets: the configured blend, with what is bought with the
# customer's products weighing half as much as their own. The configured popularity alone (14 days
# of a small store's few orders) ranks the other group of the two-group shop first
# (tests/api/test_small_shop.py). On Online Retail's customers drawn 100 and 300 at a time (5 draws
# each), this costs 0.016 of repeat NDCG@10 and gains 0.007 of discovery against the defaults,
# which were chosen on the whole file (docs/quality.md).
ROBUST: dict[str, Any] = {"knn_weight": 0.5}
# Customers ranked per task and blend: what bounds tuning's cost on a large store (the standard
# error at this many is about 0.01 of NDCG, below the gaps between blends worth a change).
MAX_CUSTOMERS = 400
Z = 2.0  # how many standard errors a blend must gain by to replace the configured one


@dataclasses.dataclass(frozen=True)
class Choice:
    config: TrainConfig  # the configuration given, with the blend chosen
    record: dict[str, Any]  # what was chosen and why, for the version's metrics


def blend_of(config: TrainConfig) -> dict[str, Any]:
    return {k: getattr(config, k) for k in BLEND_FIELDS}


def choose_blend(data: Dataset, config: TrainConfig, *, clock: float, seed: int = 7) -> Choice:
    """The blend for a version trained on ``data`` up to ``clock`` (its latest purchase)."""
    trials = config.blend_trials
    if trials <= 0:
        as_configured = {"reason": "blend_trials is 0: the blend as configured", "chosen": blend_of(config)}
        return Choice(config, as_configured)
    window = config.eval_window_days
    split = make_split(data, clock - 2 * window, window)
    customers = {t.name: len(t.truth) for t in split.tasks}
    record: dict[str, Any] = {
        "window": {"from": from_day(split.cutoff_day).isoformat() + "Z", "days": window},
        "customers": customers,
    }
    robust = dataclasses.replace(config, **ROBUST)
    if min(customers.values()) < MIN_CUSTOMERS:
        record["reason"] = (
            f"fewer than {MIN_CUSTOMERS} customers in a task of the validation window: the robust blend"
        )
        record["chosen"] = blend_of(robust)
        return Choice(robust, record)
    rng = random.Random(seed)
    draws = [{k: rng.choice(v) for k, v in BLEND_SPACE.items()} for _ in range(trials)]
    sampled = [dataclasses.replace(config, **draw) for draw in draws]
    candidates = list(dict.fromkeys([config, robust, *sampled]))[: trials + 1]

    ndcg = _ranking(data, sampled_tasks(split, MAX_CUSTOMERS, seed), config)
    configured = ndcg(config)
    # The challenger that gains most, and the error of its gain.
    challenger, gain, error = config, -np.inf, 0.0
    for candidate in candidates[1:]:
        g, e = paired_gain(ndcg(candidate), configured)
        if g > gain:
            challenger, gain, error = candidate, g, e
    score = float(np.mean([v.mean() if len(v) else 0.0 for v in configured.values()]))
    record.update(
        configured_score=round(score, 6),
        challenger=blend_of(challenger),
        challenger_gain=round(float(gain), 6) if np.isfinite(gain) else None,
        standard_error=round(error, 6),
    )
    # Only a gain beyond the noise of the window replaces the configured blend: the best of many
    # draws is otherwise, on average, a draw that was lucky on these customers (the winner's curse).
    best = config
    if gain > Z * error and gain > 0:
        # And it must hold on the window before as well: a shop's seasons change what ranks best
        # from one month to the next (on Online Retail's draws of 3,000 customers, a blend 2 standard
        # errors ahead on one window lost on the next).
        earlier = make_split(data, clock - 3 * window, window)
        record["confirmed_on"] = from_day(earlier.cutoff_day).isoformat() + "Z"
        if min(len(t.truth) for t in earlier.tasks) >= MIN_CUSTOMERS:
            check = _ranking(data, sampled_tasks(earlier, MAX_CUSTOMERS, seed), config)
            confirm, confirm_error = paired_gain(check(challenger), check(config))
            record.update(confirmed_gain=round(confirm, 6), confirmed_error=round(confirm_error, 6))
            if confirm > Z * confirm_error and confirm > 0:
                best = challenger
    if best != config:
        reason = f"the best of {len(candidates)} blends, by over {Z:g} standard errors on two windows"
    elif "confirmed_on" in record:
        reason = f"the best of {len(candidates)} blends did not beat the configured one on the window before"
    else:
        reason = f"no blend of {len(candidates)} beat the configured one by {Z:g} standard errors"
    record.update(reason=reason, chosen=blend_of(best))
    return Choice(best, record)


def _ranking(
    data: Dataset, split: Split, config: TrainConfig
) -> Callable[[TrainConfig], dict[str, npt.NDArray[np.float64]]]:
    """Fit ``config`` on what precedes the split's window; then, for any blend, its NDCG per customer
    of each task (the same fit re-ranked: the model's derived arrays follow the blend)."""
    day = split.cutoff_day
    model = with_neighbours(fit_on(split.train, data, config, day=day, until_day=day))

    def ndcg(candidate: TrainConfig) -> dict[str, npt.NDArray[np.float64]]:
        ranked = model_ranker(dataclasses.replace(model, config=candidate), data)
        return ndcg_by_customer(split, ranked, k=config.eval_k)

    return ndcg


def paired_gain(
    candidate: dict[str, npt.NDArray[np.float64]], base: dict[str, npt.NDArray[np.float64]]
) -> tuple[float, float]:
    """How much higher the candidate's gate score (the mean of the tasks' mean NDCG) is than the
    base's on the same customers, and that difference's standard error."""
    gains, variances = [], []
    for task, b in base.items():
        d = candidate[task] - b
        gains.append(float(d.mean()) if len(d) else 0.0)
        variances.append(float(d.var(ddof=1)) / len(d) if len(d) > 1 else 0.0)
    n = len(gains)
    return sum(gains) / n, float(np.sqrt(sum(variances))) / n


def sampled_tasks(split: Split, most: int, seed: int) -> Split:
    """The split with at most ``most`` customers per task, drawn with ``seed``."""
    rng = random.Random(seed)
    tasks = []
    for task in split.tasks:
        kept = sorted(rng.sample(sorted(task.truth), most)) if len(task.truth) > most else sorted(task.truth)
        tasks.append(dataclasses.replace(task, truth={c: task.truth[c] for c in kept}))
    return dataclasses.replace(split, tasks=tasks)
