"""The training pipeline as pure steps over app.ml: fit, evaluate on a time split, decide the gate.

No SQL and no job state: the job runner (app/training/jobs.py) reads the store and records the
outcome; ``nbo evaluate`` and ``nbo tune`` use these same steps.
"""

from __future__ import annotations

import hashlib
import time
from datetime import datetime
from typing import Any

import numpy as np

from app.ml.config import TrainConfig
from app.ml.dataset import Dataset, from_day, to_day
from app.ml.evaluate import Split, evaluate, make_split
from app.ml.forecast import Forecast, fit_forecast
from app.ml.model import Model
from app.training.blend import choose_blend
from app.training.steps import fit_on, gate_score, model_ranker, popularity_ranker


def fingerprint(data: Dataset) -> str:
    """Identifies the training data: same purchases, same fingerprint."""
    h = hashlib.sha256()
    for ids in (data.customers.ids, data.products.ids):
        h.update("\x1f".join(ids).encode())
    for arr in (data.customer, data.product, data.quantity, data.spend, data.day):
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


def evaluate_config(data: Dataset, split: Split, config: TrainConfig) -> dict[str, dict[str, float]]:
    model = fit_on(split.train, data, config, day=split.cutoff_day, until_day=split.cutoff_day)
    return evaluate(split, model_ranker(model, data), k=config.eval_k)


def evaluated_customers(metrics: dict[str, Any]) -> int:
    """How many customers a version's evaluation scored (0: it had nothing to compare)."""
    evaluation = metrics.get("evaluation", {})
    return sum(int(r.get("customers", 0)) for r in evaluation.values() if isinstance(r, dict))


def train(
    data: Dataset,
    as_of: datetime,
    config: TrainConfig,
    active_config: TrainConfig | None,
    active_evaluated: int = 0,
    active_holds_erased: bool = False,
) -> tuple[Model, dict[str, Any], Forecast | None]:
    """Choose the blend on the store's validation window (app/training/blend.py), evaluate the
    configuration so chosen on the window before ``as_of``, decide the gate, then fit on everything.

    ``active_evaluated`` is how many customers the active version's own evaluation scored: a
    candidate that scores none (an ``as_of`` before the data, a store of one purchase) never
    replaces a version that was measured. An active version trained on an erased customer is
    replaced by any candidate with purchases."""
    started = time.perf_counter()
    as_of_day = to_day(as_of)
    clock = data.clock(as_of_day)
    choice = choose_blend(data, config, clock=clock)
    config = choice.config
    split = make_split(data, clock - config.eval_window_days, config.eval_window_days)
    candidate = fit_on(split.train, data, config, day=split.cutoff_day, until_day=split.cutoff_day)
    result = evaluate(split, model_ranker(candidate, data), k=config.eval_k)
    baseline = evaluate(split, popularity_ranker(candidate, split), k=config.eval_k)
    evaluated = sum(int(r["customers"]) for r in result.values())

    gate: dict[str, Any] = {"candidate_score": gate_score(result)}
    if len(data.customer) == 0:
        gate.update(passed=False, reason="no purchase before as_of: left inactive")
    elif active_config is None:
        gate.update(passed=True, reason="no active version")
    elif active_holds_erased:
        gate.update(passed=True, reason="the active version was trained on a customer erased since")
    elif evaluated == 0 and active_evaluated > 0:
        gate.update(
            passed=False,
            reason="no customer in the evaluation window, where the active version's had some: left inactive",
        )
    elif evaluated == 0:
        gate.update(passed=True, reason="no customer in this or the active evaluation: nothing to compare")
    elif active_config == config:
        gate.update(
            passed=True, active_score=gate_score(result), reason="same settings as the active version"
        )
    else:
        active_result = evaluate_config(data, split, active_config)
        gate["active_score"] = gate_score(active_result)
        gate["active_evaluation"] = active_result
        gate["passed"] = gate["candidate_score"] >= gate["active_score"]
        gate["reason"] = (
            "at least as good as the active version on the same evaluation"
            if gate["passed"]
            else "worse than the active version on the same evaluation: left inactive"
        )

    # Lines strictly before as_of, aged from the clock (the latest purchase before as_of).
    everything = data.lines(as_of_day).aged(clock - as_of_day)
    model = fit_on(everything, data, config, day=clock, until_day=as_of_day)
    # Purchase timing, as of the same clock (None while the store has too few buyers).
    forecast = fit_forecast(everything, len(data.customers))
    metrics = {
        "evaluation": {
            "cutoff": from_day(split.cutoff_day).isoformat() + "Z",
            "window_days": config.eval_window_days,
            "k": config.eval_k,
            **result,
        },
        "baseline_popular": baseline,
        "tuning": choice.record,
        "gate": gate,
        "lines": len(data.customer),
        "customers": len(data.customers),
        "products": len(data.products),
        "train_seconds": round(time.perf_counter() - started, 3),
    }
    return model, metrics, forecast
