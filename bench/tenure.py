"""Where the forecast falls short at a moment, by the clients' tenure: each group's orders expected
against placed, and how well the forecast ranks clients within it, beside the ceiling's (the same
features refitted on the very orders scored). A season lifts some clients more than others; ranking
across groups then suffers even when ranking within each holds."""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.common import auc

FIRST_MONTH = 30.0  # days: a client first seen this early in the data was likely a client before it
BOUNDS = ((0.0, 30.0), (30.0, 180.0), (180.0, np.inf))


def by_tenure(
    first_age: np.ndarray,
    data_age: float,
    expected: np.ndarray,
    ceiling: np.ndarray,
    placed: np.ndarray,
) -> list[dict[str, Any]]:
    """Rows per tenure group of the scored clients. ``first_age``: days from their first order to the
    moment; ``data_age``: days from the data's first line to it. Clients first seen in the data's first
    FIRST_MONTH days form the last group: their tenure is censored by where the data begins."""
    early = first_age > data_age - FIRST_MONTH
    groups = [
        f"{low:.0f}–{high:.0f} days before" if np.isfinite(high) else f"{low:.0f} days or more before"
        for low, high in BOUNDS
    ]
    masks = [(first_age >= low) & (first_age < high) & ~early for low, high in BOUNDS]
    groups.append(f"in the data's first {FIRST_MONTH:.0f} days")
    masks.append(early)
    rows = []
    for name, mask in zip(groups, masks, strict=True):
        label = placed[mask] > 0
        ranked = 0 < label.sum() < len(label)  # an AUC needs clients of both outcomes
        rows.append(
            {
                "group": name,
                "customers": int(mask.sum()),
                "ordered_again": float(label.mean()) if mask.any() else 0.0,
                "placed": int(placed[mask].sum()),
                "expected": float(expected[mask].sum()),
                "ceiling": float(ceiling[mask].sum()),
                "auc": auc(expected[mask], label) if ranked else float("nan"),
                "auc_ceiling": auc(ceiling[mask], label) if ranked else float("nan"),
            }
        )
    return rows


def tenure_markdown(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "\nBy tenure: clients grouped by when they first ordered (the first three groups leave out the "
        f"clients first seen in the data's first {FIRST_MONTH:.0f} days, the last); per group, the orders "
        "expected against those placed, and the AUC within the group, beside the ceiling's.\n",
        "| first order | customers | ordered again | placed | expected | vs placed | ceiling | "
        "AUC within | ceiling's AUC within |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['group']} | {row['customers']:,} | {row['ordered_again']:.1%} | {row['placed']:,} | "
            f"{row['expected']:,.0f} | {row['expected'] / row['placed'] - 1:+.1%} | {row['ceiling']:,.0f} | "
            f"{row['auc']:.4f} | {row['auc_ceiling']:.4f} |"
        )
    return lines
