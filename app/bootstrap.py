"""The embedded default: on first run, import the shipped sample into an empty store."""

from __future__ import annotations

import time

from rich.console import Console
from sqlalchemy import func, select

from app.config import Settings
from app.db import make_engine, make_session_factory
from app.import_job import print_import_report, run_import
from app.importer import ONLINE_RETAIL
from app.tables import Purchase


def store_is_empty(database_url: str) -> bool:
    engine = make_engine(database_url)
    try:
        with make_session_factory(engine)() as session:
            return not session.scalar(
                select(func.count()).select_from(select(Purchase.id).limit(1).subquery())
            )
    finally:
        engine.dispose()


def first_run(settings: Settings, console: Console) -> None:
    sample = settings.sample_data
    if sample is not None and sample.exists() and store_is_empty(settings.database_url):
        console.print(f"empty store: importing the sample {sample.name} (UCI Online Retail, CC BY 4.0)")
        started = time.perf_counter()
        stats = run_import(sample, ONLINE_RETAIL, database_url=settings.database_url, console=console)
        print_import_report(console, stats, time.perf_counter() - started)
