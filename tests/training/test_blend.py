from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from app.ml.config import TrainConfig
from app.ml.dataset import Dataset
from app.training.blend import MIN_CUSTOMERS, ROBUST, blend_of, choose_blend, paired_gain
from tests.training.test_evaluation import CONFIG, clustered_shop

# Popularity alone: a blend any store with personal signal beats by far.
POPULAR_ONLY = dataclasses.replace(
    CONFIG, repeat_weight=0.0, cf_weight=0.0, knn_weight=0.0, popular_weight=1.0
)


def test_the_paired_gain_and_its_standard_error() -> None:
    base = {"repeat": np.array([0.2, 0.4, 0.6, 0.8]), "discovery": np.array([0.0, 0.5])}
    candidate = {"repeat": base["repeat"] + np.array([0.1, 0.3, 0.1, 0.3]), "discovery": np.array([0.0, 0.5])}
    gain, error = paired_gain(candidate, base)
    assert gain == pytest.approx(0.1)  # (0.2 + 0) / 2
    assert error == pytest.approx(np.sqrt(np.var([0.1, 0.3, 0.1, 0.3], ddof=1) / 4) / 2)
    assert paired_gain(base, base) == (0.0, 0.0)


def shop(customers: int) -> tuple[Dataset, float]:
    data = clustered_shop(customers=customers, seed=3)
    return data, data.last_day


def test_a_store_large_enough_replaces_a_blend_it_measures_worse() -> None:
    data, clock = shop(900)
    choice = choose_blend(data, POPULAR_ONLY, clock=clock)
    record = choice.record
    assert min(record["customers"].values()) >= MIN_CUSTOMERS
    assert choice.config != POPULAR_ONLY
    assert record["chosen"] == blend_of(choice.config)
    assert record["challenger"] == record["chosen"]
    assert record["challenger_gain"] > 2 * record["standard_error"] > 0
    assert record["reason"] == "the best of 13 blends, by over 2 standard errors on two windows"
    assert record["confirmed_gain"] > 2 * record["confirmed_error"] > 0
    # Only the blend changes, and the same store gives the same choice.
    assert dataclasses.replace(choice.config, **blend_of(POPULAR_ONLY)) == POPULAR_ONLY
    assert choose_blend(data, POPULAR_ONLY, clock=clock) == choice


def test_a_blend_no_draw_beats_beyond_the_noise_stays() -> None:
    data, clock = shop(900)
    good = choose_blend(data, POPULAR_ONLY, clock=clock).config
    again = choose_blend(data, good, clock=clock)
    assert again.config == good
    assert "no blend of" in again.record["reason"]


def test_a_small_store_gets_the_robust_blend_and_a_fixed_blend_is_kept() -> None:
    data, clock = shop(90)
    choice = choose_blend(data, CONFIG, clock=clock)
    assert choice.config == dataclasses.replace(CONFIG, **ROBUST)
    assert "fewer than" in choice.record["reason"]
    fixed = dataclasses.replace(CONFIG, blend_trials=0)
    assert choose_blend(data, fixed, clock=clock).config == fixed
    assert TrainConfig().blend_trials > 0
