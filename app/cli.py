"""The ``nbo`` command line: serve, migrate, import, train, evaluate."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from app.clock import to_naive_utc, utcnow
from app.config import get_settings
from app.ingest.import_file import print_import_report, run_import
from app.ingest.importer import ONLINE_RETAIL, Mapping
from app.logs import log_config
from app.metrics import metrics_folder
from app.migrate import upgrade
from app.ml.dataset import Dataset
from app.training.first_run import first_run, train_now
from app.training.schedule import keep_schedule

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
    demo: Annotated[
        bool, typer.Option(help="import the shipped sample into an empty store first (as nbo demo)")
    ] = False,
) -> None:
    """Migrate, train if the store has purchases and no version, then serve the HTTP API."""
    import uvicorn

    settings = get_settings()
    upgrade(settings.database_url)
    first_run(settings, console, demo=demo)
    count = workers or settings.workers
    with metrics_folder(count):
        # Several workers run under uvicorn's supervisor (0.55 and later: its listener keeps
        # TCP_NODELAY, and how long a worker may take to answer its ping is settable). Its 5 s default
        # killed healthy workers that were importing the app or loading a model on a busy machine.
        uvicorn.run(
            "app.main:worker_app",
            factory=True,
            host=host or settings.host,
            port=port or settings.port,
            workers=count,
            timeout_worker_healthcheck=settings.worker_healthcheck_seconds,
            log_level=settings.log_level,
            log_config=log_config(settings.log_level),
            access_log=False,  # nbo.access writes one, with the request id
            timeout_graceful_shutdown=30,
        )


@cli.command()
def demo(
    host: Annotated[str | None, typer.Option(help="address to bind (NBO_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="port (NBO_PORT)")] = None,
) -> None:
    """The demo: an empty store gets the shipped Online Retail sample, trained on, then served."""
    serve(host=host, port=port, workers=None, demo=True)


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
    schedule: Annotated[
        bool,
        typer.Option(
            help="keep training, once the newest version is NBO_RETRAIN_EVERY_HOURS old (a trainer)"
        ),
    ] = False,
) -> None:
    """Train a model version now, in this process, and activate it if it passes the gate."""
    settings = get_settings()
    upgrade(settings.database_url)
    if schedule:
        keep_schedule(settings, lambda: train_now(settings, console, utcnow()))
        return
    moment = to_naive_utc(as_of) if as_of is not None else utcnow()
    if train_now(settings, console, moment) != "ready":
        raise typer.Exit(1)


@cli.command("simulate")
def simulate_cmd(
    path: Annotated[
        Path | None, typer.Argument(help="a purchases file (default: the shipped sample)")
    ] = None,
    as_of: Annotated[
        datetime | None, typer.Option("--as-of", help="the replay's start (default: the file's end - days)")
    ] = None,
    days: Annotated[float, typer.Option(help="days replayed")] = 30.0,
    holdout: Annotated[float, typer.Option(min=0.05, max=0.95, help="the holdout's share")] = 0.5,
    seed: Annotated[int, typer.Option(help="the click model's seed")] = 7,
    database_url: Annotated[
        str | None, typer.Option(help="the store to replay into (default: a throwaway SQLite file)")
    ] = None,
    output: Annotated[Path | None, typer.Option(help="write the figures as JSON here")] = None,
) -> None:
    """Replay a held-out month of real purchases: a campaign with a holdout, what it earned, the uplift."""
    from app.simulate import report, simulate

    settings = get_settings()
    source = path or settings.sample_data
    if source is None or not source.exists():
        raise typer.BadParameter(f"{source} does not exist", param_hint="PATH")
    moment = to_naive_utc(as_of) if as_of is not None else None
    found = simulate(
        source,
        as_of=moment,
        days=days,
        holdout=holdout,
        seed=seed,
        database_url=database_url,
        settings=settings,
        say=console.print,
    )
    report(found, console.print)
    if output is not None:
        output.write_text(json.dumps(found, indent=2) + "\n")


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

    from app.ml.dataset import to_day
    from app.training.evaluation import evaluate_dataset

    settings = get_settings()
    data = _store_dataset()
    cutoff_day = to_day(to_naive_utc(cutoff)) if cutoff is not None else None
    with console.status("fitting and ranking"):
        result = evaluate_dataset(data, settings.train, cutoff_day=cutoff_day)
    table = Table(title=f"cutoff {result['cutoff']}, metrics at {result['k']}")
    table.add_column("method")
    for task in ("repeat", "discovery"):
        for metric in ("hit_rate", "precision", "recall", "ndcg"):
            table.add_column(f"{task} {metric}", justify="right")
    for name, tasks in result["results"].items():
        table.add_row(
            name,
            *(
                f"{tasks[t][m]:.4f}"
                for t in ("repeat", "discovery")
                for m in ("hit_rate", "precision", "recall", "ndcg")
            ),
        )
    console.print(table)
    console.print(f"customers: {result['customers']}")
    if output is not None:
        output.write_text(json.dumps(result, indent=2) + "\n")


@cli.command("tune")
def tune_cmd(
    cutoff: Annotated[
        datetime | None,
        typer.Option(help="the test cutoff; validation is the 30 days before it (default: latest − 30 days)"),
    ] = None,
    fit_trials: Annotated[int, typer.Option(help="configurations fitted")] = 10,
    blend_trials: Annotated[int, typer.Option(help="blends tried on the best fit")] = 20,
    seed: Annotated[int, typer.Option(help="random search seed")] = 7,
    output: Annotated[Path | None, typer.Option(help="also write every trial to this JSON file")] = None,
) -> None:
    """Choose training and blend parameters on the validation window before the test cutoff."""
    from app.ml.dataset import to_day
    from app.training.tuning import Trial, tune

    data = _store_dataset()
    cutoff_day = to_day(to_naive_utc(cutoff)) if cutoff is not None else data.last_day - 30.0

    def show(trial: Trial) -> None:
        r = trial.result
        console.print(
            f"repeat {r['repeat']['ndcg']:.4f}  discovery {r['discovery']['ndcg']:.4f}  "
            f"score {trial.score:.4f}"
        )

    trials = tune(
        data,
        get_settings().train,
        cutoff_day=cutoff_day,
        fit_trials=fit_trials,
        blend_trials=blend_trials,
        seed=seed,
        progress=show,
    )
    best = trials[0]
    default = get_settings().train
    changed = {k: v for k, v in best.config.to_dict().items() if getattr(default, k) != v}
    console.print(f"best: score {best.score:.4f}; differs from the current settings in {changed}")
    if output is not None:
        rows = [{"score": t.score, "result": t.result, "config": t.config.to_dict()} for t in trials]
        output.write_text(json.dumps(rows, indent=2) + "\n")


def _store_dataset() -> Dataset:
    """Every purchase in the configured store."""
    from app.db import make_engine, make_session_factory
    from app.store.purchase_cache import PurchaseCache

    engine = make_engine(get_settings().database_url)
    try:
        with make_session_factory(engine)() as session:
            data = PurchaseCache().dataset(session, before=datetime.max)
    finally:
        engine.dispose()
    if len(data.customer) == 0:
        raise typer.BadParameter("the store has no purchases", param_hint="NBO_DATABASE_URL")
    return data


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
