from __future__ import annotations

import dataclasses

import numpy as np

from app.ml.config import TrainConfig
from app.ml.dataset import Dataset
from app.ml.evaluate import METRICS, at_k
from app.ml.ids import IdMap
from app.training.evaluation import RANKERS, evaluate_dataset
from app.training.tuning import tune


def clustered_shop(customers: int = 90, seed: int = 5) -> Dataset:
    """Three taste clusters of ten products; each customer orders from its own cluster over 200 days,
    a few products far more often than the rest."""
    rng = np.random.default_rng(seed)
    rows = []
    order = 0
    for c in range(customers):
        cluster = c % 3
        favourites = rng.choice(10, size=3, replace=False)
        for _ in range(int(rng.integers(4, 9))):
            day = float(rng.uniform(0, 200))
            picks = set(favourites[rng.random(3) < 0.6].tolist()) | set(rng.choice(10, 1).tolist())
            for p in picks:
                rows.append((c, cluster * 10 + p, order, day))
            order += 1
    a = np.array(rows, dtype=np.float64)
    return Dataset(
        customers=IdMap([f"c{i:03d}" for i in range(customers)]),
        products=IdMap([f"p{i:02d}" for i in range(30)]),
        countries=[None] * customers,
        customer=a[:, 0].astype(np.int64),
        product=a[:, 1].astype(np.int64),
        order=a[:, 2].astype(np.int64),
        quantity=np.ones(len(a)),
        spend=np.full(len(a), 2.0),
        day=a[:, 3] + 15000.0,
    )


CONFIG = dataclasses.replace(TrainConfig(), factors=8, iterations=10, neighbours=20)


def test_every_method_on_the_same_split_and_metrics() -> None:
    result = evaluate_dataset(clustered_shop(), CONFIG)
    assert set(result["results"]) == set(RANKERS)
    assert result["customers"]["repeat"] > 20
    for tasks in result["results"].values():
        for task in ("repeat", "discovery"):
            assert set(tasks[task]) == {*METRICS, "customers"}
            assert tasks[task]["customers"] == result["customers"][task]
            assert all(0.0 <= tasks[task][m] <= 1.0 for m in METRICS)
    figures = result["results"]
    # each customer's favourites beat the shop's best sellers at repeat purchases
    assert figures["nbo"]["repeat"]["ndcg"] > figures["popularity"]["repeat"]["ndcg"]
    assert figures["own_most_bought"]["repeat"]["ndcg"] > figures["popularity"]["repeat"]["ndcg"]
    # own favourites have nothing new to offer; the cluster does
    assert figures["own_most_bought"]["discovery"]["ndcg"] == 0.0
    assert figures["nbo"]["discovery"]["ndcg"] > figures["popularity"]["discovery"]["ndcg"]


def test_metrics_at_k() -> None:
    m = at_k([5, 1, 7], {1, 2}, k=3)
    assert m["hit_rate"] == 1.0
    assert m["precision"] == 1 / 3
    assert m["recall"] == 0.5
    # one hit at rank 2 over an ideal of two hits at ranks 1 and 2
    assert np.isclose(m["ndcg"], (1 / np.log2(3)) / (1 + 1 / np.log2(3)))


def test_tuning_looks_only_before_the_cutoff_and_starts_from_the_base() -> None:
    data = clustered_shop()
    cutoff = data.last_day - 30.0
    trials = tune(data, CONFIG, cutoff_day=cutoff, fit_trials=3, blend_trials=3, seed=1)
    assert len(trials) >= 4
    assert CONFIG in [t.config for t in trials]  # the base is always tried
    assert [t.score for t in trials] == sorted((t.score for t in trials), reverse=True)
    # Nothing after the cutoff can move the choice: the same data with the test window cut off
    # tunes to the same scores.
    keep = data.day < cutoff
    before = Dataset(
        customers=data.customers,
        products=data.products,
        countries=data.countries,
        customer=data.customer[keep],
        product=data.product[keep],
        order=data.order[keep],
        quantity=data.quantity[keep],
        spend=data.spend[keep],
        day=data.day[keep],
    )
    again = tune(before, CONFIG, cutoff_day=cutoff, fit_trials=3, blend_trials=3, seed=1)
    assert [t.score for t in again] == [t.score for t in trials]
