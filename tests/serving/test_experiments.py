"""Bucketing: deterministic, stable, in proportion to the weights."""

from __future__ import annotations

from collections import Counter

from scipy.stats import chisquare

from app.serving.experiments import Running, bucket


def test_the_same_customer_always_gets_the_same_variant() -> None:
    running = Running.of("spring", [{"name": "a", "weight": 1}, {"name": "b", "weight": 1}])
    first = [running.assign(f"c{i}").name for i in range(500)]
    again = Running.of("spring", [{"name": "a", "weight": 1}, {"name": "b", "weight": 1}])
    assert [again.assign(f"c{i}").name for i in range(500)] == first
    assert 0.0 <= bucket("spring", "c1") < 1.0
    other = Running.of("autumn", [{"name": "a", "weight": 1}, {"name": "b", "weight": 1}])
    moved = sum(other.assign(f"c{i}").name != name for i, name in enumerate(first))
    assert 150 < moved < 350  # another experiment buckets independently


def test_shares_follow_the_weights() -> None:
    weights = {"control": 1.0, "refill": 2.0, "new_model": 7.0}
    running = Running.of("w", [{"name": n, "weight": w} for n, w in weights.items()])
    n = 20_000
    counts = Counter(running.assign(f"customer-{i}").name for i in range(n))
    total = sum(weights.values())
    expected = [n * w / total for w in weights.values()]
    _, p = chisquare([counts[name] for name in weights], expected)
    assert p > 0.01, (counts, expected)
