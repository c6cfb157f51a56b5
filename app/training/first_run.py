"""Start-up: train when the store has purchases and no version; for the demo (``nbo demo``, what
``make run`` starts), first import the shipped sample into an empty store. A plain ``nbo serve``
never imports it: a production store starts with its own data only."""

from __future__ import annotations

import time
from datetime import datetime

from rich.console import Console

from app.clock import utcnow
from app.config import Settings
from app.db import make_engine, make_session_factory
from app.ingest.import_file import print_import_report, run_import
from app.ingest.importer import ONLINE_RETAIL
from app.ml import artifact
from app.store import versions
from app.store.purchase_cache import PurchaseCache
from app.store.purchases import has_purchases
from app.training.claim import abandon_stale_trainings
from app.training.jobs import run_job


def store_is_empty(database_url: str) -> bool:
    engine = make_engine(database_url)
    try:
        with make_session_factory(engine)() as session:
            return not has_purchases(session)
    finally:
        engine.dispose()


def first_run(settings: Settings, console: Console, *, demo: bool = False) -> None:
    sample = settings.sample_data
    if demo and sample is not None and sample.exists() and store_is_empty(settings.database_url):
        console.print(f"empty store: importing the sample {sample.name} (UCI Online Retail, CC BY 4.0)")
        started = time.perf_counter()
        stats = run_import(sample, ONLINE_RETAIL, database_url=settings.database_url, console=console)
        print_import_report(console, stats, time.perf_counter() - started)
    if settings.train_on_start:
        train_if_none(settings, console)


def train_if_none(settings: Settings, console: Console) -> None:
    """Train and activate a version when the store has purchases and no version is active, or the
    active one cannot be served (e.g. written by an older nbo in another format)."""
    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine)() as session:
            current = versions.active(session)
            if current is not None:
                try:
                    artifact.load(settings.models_dir / current.version)
                    return
                except artifact.ArtifactError as exc:
                    console.print(f"the active version cannot be served: {exc}")
    finally:
        engine.dispose()
    if not store_is_empty(settings.database_url):
        console.print("no active model: training one on the store")
        train_now(settings, console, utcnow())


def train_now(settings: Settings, console: Console, as_of: datetime) -> str:
    """Train a version in this process (the job the API runs in the background); returns its status."""
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    try:
        abandon_stale_trainings(factory, settings.training_timeout_seconds, settings.models_dir)
        with factory() as session:
            row = versions.create(session, as_of=as_of)
            session.commit()
        started = time.perf_counter()
        run_job(
            factory,
            settings.models_dir,
            settings.train,
            row.version,
            row.as_of,
            purchases=PurchaseCache(),
            lease_seconds=settings.training_lease_seconds,
        )
        with factory() as session:
            done = versions.get(session, version=row.version)
            assert done is not None
            gate = (done.metrics or {}).get("gate", {})
            outcome = done.status if done.error is None else f"{done.status}: {done.error}"
            active = "active" if done.active else f"inactive ({gate.get('reason', 'not activated')})"
        console.print(f"{row.version}: {outcome}, {active}, in {time.perf_counter() - started:.1f} s")
        return done.status
    finally:
        engine.dispose()
