"""The scale measurements' generator: seeded, of the shape it claims, importable as Online Retail."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from app.ingest.import_file import run_import
from app.ingest.importer import ONLINE_RETAIL
from app.migrate import upgrade
from bench import shop


def test_a_shop_has_online_retails_shape_at_any_multiple() -> None:
    for multiple in (0.5, 2.0):
        figures = shop.shape(shop.generate(multiple))
        assert figures["customers"] == figures["products"] == 4000 * multiple
        assert abs(figures["lines"] / (500_000 * multiple) - 1) < 0.05
        assert abs(figures["top_10pct_share"] - shop.TOP_SHARE) < 0.02
        assert abs(figures["repeat_share"] - shop.REPEAT_SHARE) < 0.01


def test_the_same_seed_gives_the_same_shop_and_another_seed_another() -> None:
    a, b, c = shop.generate(0.1, seed=3), shop.generate(0.1, seed=3), shop.generate(0.1, seed=4)
    for name in ("customer", "product", "order", "day", "quantity", "price"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.product[:1000], c.product[:1000])


def test_its_file_imports_whole_as_online_retail(tmp_path: Path) -> None:
    small = shop.generate(0.05)
    path = tmp_path / "shop.csv"
    shop.write_csv(small, path)
    url = f"sqlite:///{tmp_path / 'store.db'}"
    upgrade(url)
    stats = run_import(path, ONLINE_RETAIL, database_url=url)
    assert stats.rows == stats.stored == len(small.product)
    assert stats.skipped == 0
