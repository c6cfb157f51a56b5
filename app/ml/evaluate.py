"""Offline evaluation on a time split: repeat and discovery tasks, metrics at k.

Repeat: customers who bought on both sides of the cutoff; truth = what they bought in the window.
Discovery: truth = what they bought in the window and never before; ranked with exclude_purchased.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from app.ml.dataset import Dataset
from app.ml.lines import Lines

METRICS = ("hit_rate", "precision", "recall", "ndcg")
Ranker = Callable[[int, bool, int], list[int]]  # (customer code, exclude_purchased, k) -> product codes


@dataclass
class Task:
    name: str
    exclude_purchased: bool
    truth: dict[int, set[int]]


@dataclass
class Split:
    cutoff_day: float
    train: Lines  # ages counted back from the cutoff
    bought_before: dict[int, npt.NDArray[np.int64]]  # per customer with a purchase before the cutoff
    tasks: list[Task]


def _by_customer(customer: npt.NDArray[np.int64], product: npt.NDArray[np.int64]) -> dict[int, set[int]]:
    out: dict[int, set[int]] = {}
    for c, p in zip(customer.tolist(), product.tolist(), strict=True):
        out.setdefault(c, set()).add(p)
    return out


def make_split(data: Dataset, cutoff_day: float, window_days: float) -> Split:
    train = data.lines(cutoff_day)
    test = data.lines(cutoff_day + window_days, cutoff_day)
    before = _by_customer(train.customer[train.quantity > 0], train.product[train.quantity > 0])
    after = _by_customer(test.customer[test.quantity > 0], test.product[test.quantity > 0])
    repeat = {c: t for c, t in after.items() if c in before}
    discovery = {c: t - before[c] for c, t in repeat.items() if t - before[c]}
    return Split(
        cutoff_day,
        train,
        {c: np.fromiter(sorted(p), dtype=np.int64) for c, p in before.items()},
        [Task("repeat", False, repeat), Task("discovery", True, discovery)],
    )


def at_k(ranked: list[int], truth: set[int], k: int) -> dict[str, float]:
    ranked = ranked[:k]
    hits = [1.0 if p in truth else 0.0 for p in ranked]
    dcg = sum(h / np.log2(i + 2) for i, h in enumerate(hits))
    idcg = sum(1.0 / np.log2(i + 2) for i in range(min(k, len(truth))))
    n_hits = sum(hits)
    return {
        "hit_rate": 1.0 if n_hits else 0.0,
        "precision": n_hits / k,
        "recall": n_hits / len(truth),
        "ndcg": dcg / idcg if idcg else 0.0,
    }


def evaluate(split: Split, rank: Ranker, k: int = 10) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for task in split.tasks:
        sums = dict.fromkeys(METRICS, 0.0)
        for customer, truth in task.truth.items():
            ranked = rank(customer, task.exclude_purchased, k)
            for name, value in at_k(ranked, truth, k).items():
                sums[name] += value
        n = max(len(task.truth), 1)
        out[task.name] = {name: round(total / n, 6) for name, total in sums.items()}
        out[task.name]["customers"] = float(len(task.truth))
    return out


def ndcg_by_customer(split: Split, rank: Ranker, k: int = 10) -> dict[str, npt.NDArray[np.float64]]:
    """Each task's NDCG@k per customer, in the task's customer order: for paired comparisons of
    two rankers on the same customers."""
    return {
        task.name: np.array(
            [at_k(rank(c, task.exclude_purchased, k), truth, k)["ndcg"] for c, truth in task.truth.items()]
        )
        for task in split.tasks
    }
