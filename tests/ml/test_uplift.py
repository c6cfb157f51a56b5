from __future__ import annotations

import math
import random
import statistics

import numpy as np
import pytest

from app.ml.uplift import uplift


def test_uplift_and_its_interval_against_a_direct_computation() -> None:
    rng = random.Random(11)
    treated = [rng.expovariate(1 / 12) if rng.random() < 0.3 else 0.0 for _ in range(400)]
    control = [rng.expovariate(1 / 12) if rng.random() < 0.2 else 0.0 for _ in range(300)]
    found = uplift(np.array(treated), np.array(control))
    assert found is not None
    estimate, (low, high) = found
    direct = statistics.fmean(treated) - statistics.fmean(control)
    se = math.sqrt(statistics.variance(treated) / 400 + statistics.variance(control) / 300)
    z = statistics.NormalDist().inv_cdf(0.975)
    assert estimate == pytest.approx(direct)
    assert (low, high) == pytest.approx((direct - z * se, direct + z * se))


def test_too_few_customers_give_no_uplift() -> None:
    assert uplift(np.array([1.0]), np.array([1.0, 2.0])) is None
