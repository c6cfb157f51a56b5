"""nbo simulate on the shipped sample: a month of real purchases replayed against a live API."""

from __future__ import annotations

from pathlib import Path

from app.config import Settings
from app.simulate import click_probability, report, simulate

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "online_retail_sample.csv.gz"


def test_a_replayed_month_exercises_campaigns_attribution_and_experiments(tmp_path: Path) -> None:
    said: list[str] = []
    found = simulate(
        SAMPLE,
        as_of=None,
        days=30,
        holdout=0.5,
        seed=7,
        database_url=None,
        settings=Settings(models_dir=tmp_path / "models"),
        say=said.append,
    )
    campaign = found["campaign"]
    assert campaign["status"] == "done"
    [group] = found["metrics"]["groups"]
    assert group["key"] == campaign["campaign_id"]
    assert group["offers"] == campaign["recipients"] > 0  # the holdout is reached, not offered
    assert group["impressions"] == 5 * group["offers"]  # one per product sent
    assert 0 < group["clicks"] < group["impressions"]
    assert 0 < group["conversions"] <= group["offers"] * 5
    assert group["revenue"] > 0
    variants = {v["name"]: v for v in found["experiment"]["variants"]}
    held, offered = variants["holdout"]["customers"], variants["offers"]["customers"]
    assert held == campaign["skipped"]["holdout"]
    assert abs(held / (held + offered) - 0.5) < 0.06  # within sampling error of the weights
    lift = variants["offers"]["uplift_vs_control"]
    low, high = lift["ci95"]
    assert low < lift["estimate"] < high
    report(found, said.append)
    assert any("uplift" in line for line in said)


def test_the_click_model_favours_what_is_bought_and_the_top_ranks() -> None:
    assert click_probability(0, True) == 0.30
    assert click_probability(1, True) == 0.15
    assert click_probability(0, False) == 0.02
    assert click_probability(4, False) < click_probability(0, False)
