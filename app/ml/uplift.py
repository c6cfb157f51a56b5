"""The uplift of a treatment over a control: the difference of their means, with a 95 % interval by
the normal approximation (Welch's standard error, sqrt(s_t²/n_t + s_c²/n_c))."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

Z95 = 1.959963984540054  # the standard normal's 97.5 % quantile


def uplift(
    treatment: npt.NDArray[np.float64], control: npt.NDArray[np.float64]
) -> tuple[float, tuple[float, float]] | None:
    """(estimate, (low, high)); None when either group has fewer than two members."""
    if len(treatment) < 2 or len(control) < 2:
        return None
    estimate = float(treatment.mean() - control.mean())
    se = math.sqrt(float(treatment.var(ddof=1)) / len(treatment) + float(control.var(ddof=1)) / len(control))
    return estimate, (estimate - Z95 * se, estimate + Z95 * se)
