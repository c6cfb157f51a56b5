"""Start-up: the shipped sample belongs to the demo, never to a plain ``nbo serve``."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from sqlalchemy import Engine

from app.config import Settings
from app.training.first_run import first_run, store_is_empty

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "online_retail_sample.csv.gz"


def test_serve_never_imports_the_sample_the_demo_does(
    committed_engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    shipped = settings.model_copy(update={"sample_data": SAMPLE, "train_on_start": False})
    with (tmp_path / "out.txt").open("w") as out:
        console = Console(file=out)
        assert store_is_empty(settings.database_url)
        first_run(shipped, console)  # nbo serve
        assert store_is_empty(settings.database_url)
        first_run(shipped, console, demo=True)  # nbo demo, what make run starts
        assert not store_is_empty(settings.database_url)
