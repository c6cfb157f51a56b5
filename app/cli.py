"""The ``nbo`` command line: serve, migrate, import, train, evaluate."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from app import bootstrap
from app.config import get_settings
from app.import_job import print_import_report, run_import
from app.importer import ONLINE_RETAIL, Mapping
from app.migrate import upgrade
from app.schemas import to_naive_utc, utcnow

cli = typer.Typer(help="nbo: next-best-offer service", no_args_is_help=True, add_completion=False)
console = Console()


@cli.command()
def migrate() -> None:
    """Bring the database schema up to date."""
    upgrade(get_settings().database_url)
    console.print("database is up to date")


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="address to bind (NBO_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="port (NBO_PORT)")] = None,
    workers: Annotated[int | None, typer.Option(help="worker processes (NBO_WORKERS)")] = None,
) -> None:
    """Migrate, set up the embedded default on first run, then serve the HTTP API."""
    import uvicorn

    settings = get_settings()
    upgrade(settings.database_url)
    bootstrap.first_run(settings, console)
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers or settings.workers,
        log_level=settings.log_level,
        timeout_graceful_shutdown=30,
    )


@cli.command("import")
def import_(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV file, optionally .gz")],
    preset: Annotated[
        str | None, typer.Option(help="a ready mapping: 'online-retail' (UCI Online Retail)")
    ] = None,
    map_: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            help="field=column, for customer_id, product_id, quantity, unit_price, "
            "occurred_at and optionally order_id, event_id, country, product_name",
        ),
    ] = None,
    drop_exact_duplicates: Annotated[
        bool,
        typer.Option(
            help="skip rows identical to an earlier row (kept by default: an order may list an item twice)"
        ),
    ] = False,
) -> None:
    """Import purchases from a CSV file in bulk."""
    if preset == "online-retail":
        mapping = ONLINE_RETAIL
    elif preset is not None:
        raise typer.BadParameter(f"unknown preset {preset!r}; known: online-retail", param_hint="--preset")
    else:
        try:
            mapping = Mapping.parse(map_ or [])
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--map") from exc
    settings = get_settings()
    upgrade(settings.database_url)
    started = time.perf_counter()
    stats = run_import(
        path,
        mapping,
        database_url=settings.database_url,
        drop_exact_duplicates=drop_exact_duplicates,
        console=console,
    )
    print_import_report(console, stats, time.perf_counter() - started)


@cli.command()
def train(
    as_of: Annotated[
        datetime | None, typer.Option(help="train on purchases before this time (default: now)")
    ] = None,
) -> None:
    """Train a model version now, in this process, and activate it if it passes the gate."""
    settings = get_settings()
    upgrade(settings.database_url)
    moment = to_naive_utc(as_of) if as_of is not None else utcnow()
    if bootstrap.train_now(settings, console, moment) != "ready":
        raise typer.Exit(1)


@cli.command("evaluate")
def evaluate_cmd(
    cutoff: Annotated[
        datetime | None,
        typer.Option(help="learn before this time, test after it (default: latest purchase − 30 days)"),
    ] = None,
    output: Annotated[Path | None, typer.Option(help="also write the figures to this JSON file")] = None,
) -> None:
    """Measure nbo's offers against popularity, each customer's own favourites, ALS and item-kNN on a
    time split of the store's purchases (repeat and discovery tasks, metrics at 10)."""
    from rich.table import Table
    from sqlalchemy.orm import Session

    from app.columns import PurchaseColumns
    from app.db import make_engine
    from app.evaluation import evaluate_dataset
    from app.ml.dataset import to_day

    settings = get_settings()
    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            data = PurchaseColumns().dataset(session, before=datetime.max)
    finally:
        engine.dispose()
    if len(data.customer) == 0:
        raise typer.BadParameter("the store has no purchases", param_hint="NBO_DATABASE_URL")
    cutoff_day = to_day(to_naive_utc(cutoff)) if cutoff is not None else None
    with console.status("fitting and ranking"):
        result = evaluate_dataset(data, settings.train, cutoff_day=cutoff_day)
    table = Table(title=f"cutoff {result['cutoff']}, metrics at {result['k']}")
    table.add_column("method")
    for task in ("repeat", "discovery"):
        for metric in ("hit_rate", "precision", "recall", "ndcg"):
            table.add_column(f"{task} {metric}", justify="right")
    for name, tasks in result["results"].items():
        table.add_row(name, *(f"{tasks[t][m]:.4f}" for t in ("repeat", "discovery") for m in
                             ("hit_rate", "precision", "recall", "ndcg")))  # fmt: skip
    console.print(table)
    console.print(f"customers: {result['customers']}")
    if output is not None:
        output.write_text(json.dumps(result, indent=2) + "\n")


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
