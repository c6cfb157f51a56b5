"""Running an import with a progress bar and reporting what each rule did."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from app.db import make_engine
from app.ingest.importer import ImportStats, Mapping, open_text, read_rows
from app.store.bulk import load_purchases


def print_import_report(console: Console, stats: ImportStats, seconds: float) -> None:
    table = Table(title="import rules", show_lines=False)
    table.add_column("rule")
    table.add_column("rows matching in the file", justify="right")
    table.add_column("rows it decided", justify="right")
    rules = sorted(set(stats.matched) | {r.partition(":")[2] for r in stats.decided})
    for rule in rules:
        decided = stats.decided.get(f"skip:{rule}", 0) + stats.decided.get(f"stored:{rule}", 0)
        matched = stats.matched.get(rule)
        table.add_row(rule, "" if matched is None else f"{matched:,}", f"{decided:,}")
    console.print(table)
    rate = stats.rows / seconds if seconds else 0.0
    console.print(
        f"{stats.rows:,} rows read in {seconds:.1f} s ({rate:,.0f} rows/s): {stats.stored:,} stored, "
        f"{stats.already_stored:,} already stored, {stats.skipped:,} skipped"
    )


def run_import(
    path: Path,
    mapping: Mapping,
    *,
    database_url: str,
    drop_exact_duplicates: bool = False,
    console: Console | None = None,
) -> ImportStats:
    stats = ImportStats()
    engine = make_engine(database_url)
    try:
        with (
            open_text(path) as handle,
            Progress(
                SpinnerColumn(),
                TextColumn("importing {task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                disable=console is None,
                transient=True,
            ) as progress,
        ):
            task = progress.add_task(path.name, total=None)
            ticks = 0

            def on_row() -> None:
                nonlocal ticks
                ticks += 1
                if ticks == 10_000:
                    progress.advance(task, ticks)
                    ticks = 0

            rows = read_rows(
                handle, mapping, stats, drop_exact_duplicates=drop_exact_duplicates, on_row=on_row
            )
            stats.stored, stats.already_stored = load_purchases(engine, rows)
    finally:
        engine.dispose()
    return stats
