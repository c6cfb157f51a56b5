"""Do clients of different segments want different offers? The blend tuned per segment, then tested.

On the protocol of ``nbo tune`` and ``nbo evaluate`` (cutoff = latest purchase − 30 days). Validation:
fit on what came before cutoff − 30 days and score on the 30 days up to the cutoff, customers grouped
by their segment at that moment (new; champions and loyal; potential; at risk, hibernating and lost).
For each group a seeded random search over the blend picks the weights that score best on that group.
Test: fit on everything before the cutoff; each customer is ranked with their group's weights (their
segment as of the cutoff), against nbo's one blend for all. Run: ``python -m bench.segment_blends``.
"""

from __future__ import annotations

import dataclasses
import random
import tempfile
from pathlib import Path
from typing import Any

from app.config import Settings
from app.ml.config import TrainConfig
from app.ml.dataset import Dataset
from app.ml.evaluate import Split, Task, evaluate, make_split
from app.ml.model import Model, with_neighbours
from app.ml.rfm import activity, rfm, segments
from app.training.steps import fit_on, gate_score, model_ranker
from bench.common import data_file, full_store, protocol_cutoff, write_results

GROUPS = {
    "new": "new",
    "champions": "active",
    "loyal": "active",
    "potential": "potential",
    "at_risk": "lapsing",
    "hibernating": "lapsing",
    "lost": "lapsing",
}
BLENDS: dict[str, list[Any]] = {
    "repeat_weight": [0.5, 1.0, 2.0],
    "cf_weight": [0.1, 0.25, 0.5, 1.0],
    "knn_weight": [0.05, 0.1, 0.25, 0.5],
    "popular_weight": [0.05, 0.15, 0.3, 0.6],
    "due_weight": [0.0, 0.25],
}
TRIALS = 40


@dataclasses.dataclass
class Window:
    split: Split
    model: Model
    group: list[str]  # per customer code

    def of(self, group: str) -> Split:
        """The split with only the group's customers in its tasks."""
        tasks = [
            Task(t.name, t.exclude_purchased, {c: v for c, v in t.truth.items() if self.group[c] == group})
            for t in self.split.tasks
        ]
        return dataclasses.replace(self.split, tasks=tasks)


def window(data: Dataset, cutoff_day: float, config: TrainConfig) -> Window:
    split = make_split(data, cutoff_day, 30.0)
    # Every product's neighbours: some of the blends tried weigh co-purchase.
    model = with_neighbours(fit_on(split.train, data, config, day=cutoff_day, until_day=cutoff_day))
    act = activity(split.train, len(data.customers))
    return Window(split, model, [GROUPS.get(s, "prospect") for s in segments(act, rfm(act))])


def score_with(w: Window, split: Split, data: Dataset, config: TrainConfig) -> dict[str, dict[str, float]]:
    return evaluate(split, model_ranker(dataclasses.replace(w.model, config=config), data), k=config.eval_k)


def main() -> None:
    base = Settings().train
    rng = random.Random(11)
    blends = [base] + [
        dataclasses.replace(base, **{k: rng.choice(v) for k, v in BLENDS.items()}) for _ in range(TRIALS)
    ]
    results: dict[str, Any] = {"data": data_file().name, "trials": len(blends), "groups": {}}
    with tempfile.TemporaryDirectory() as tmp, full_store(Path(tmp)) as (_, data):
        cutoff_day, cutoff = protocol_cutoff(data)
        validation = window(data, cutoff_day - 30.0, base)
        test = window(data, cutoff_day, base)
        for group in ("new", "active", "potential", "lapsing"):
            tried = [gate_score(score_with(validation, validation.of(group), data, c)) for c in blends]
            best = blends[max(range(len(blends)), key=tried.__getitem__)]
            split = test.of(group)
            results["groups"][group] = {
                "weights": {k: getattr(best, k) for k in BLENDS},
                "validation": {"one_blend": tried[0], "own_blend": max(tried)},
                "test_one_blend": score_with(test, split, data, base),
                "test_own_blend": score_with(test, split, data, best),
            }
    results["cutoff"] = cutoff
    groups = results["groups"]

    def overall(key: str, task: str) -> float:
        """The mean over every test customer, whatever their group."""
        total = sum(g[key][task]["ndcg"] * g[key][task]["customers"] for g in groups.values())
        return float(total / max(sum(g[key][task]["customers"] for g in groups.values()), 1.0))

    for key in ("test_one_blend", "test_own_blend"):
        results[key] = {task: overall(key, task) for task in ("repeat", "discovery")}
    lines = [
        "# One blend, or one per segment?\n",
        f"Data: `{results['data']}`; cutoff {cutoff}. Weights searched per group on the validation window "
        f"({len(blends)} blends, the first nbo's own), tested on the 30 days after the cutoff. NDCG at 10. "
        "Command: `python -m bench.segment_blends`.\n",
        "| group | customers (repeat / discovery) | one blend: repeat | own: repeat "
        "| one blend: discovery | own: discovery |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, g in groups.items():
        one, own = g["test_one_blend"], g["test_own_blend"]
        lines.append(
            f"| {name} | {int(one['repeat']['customers']):,} / {int(one['discovery']['customers']):,} "
            f"| {one['repeat']['ndcg']:.4f} | {own['repeat']['ndcg']:.4f} "
            f"| {one['discovery']['ndcg']:.4f} | {own['discovery']['ndcg']:.4f} |"
        )
    one, own = results["test_one_blend"], results["test_own_blend"]
    lines.append(
        f"| **all** | | {one['repeat']:.4f} | {own['repeat']:.4f} | {one['discovery']:.4f} "
        f"| {own['discovery']:.4f} |"
    )
    lines.append(
        "\nGroups by segment at each window's start: new; active = champions and loyal; potential; "
        "lapsing = at risk, hibernating and lost. Each group's weights are in the JSON file.\n"
    )
    write_results("segment_blends", results, "\n".join(lines))


if __name__ == "__main__":
    main()
