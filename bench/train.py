"""Training time: nbo's pipeline against ``implicit`` alone on the same confidence matrix.

The pipeline is what a version costs: read every purchase before as_of from the store, build the
customers' sums and the confidence matrix, fit (ALS factors, co-purchase neighbours, popularity),
save the artifact. The baseline is ``implicit``'s ALS fit on that same matrix with the same
parameters, in the same process. Two reads are measured: a first training reads the whole table; a
retrain reads only the purchases added since (each repetition adds 1,000 lines first, about a day of
this shop's trade). The whole job (which also chooses the blend, fits on the evaluation split and
evaluates) is reported beside it, with and without the blend's choice. Run: ``python -m bench.train``.
"""

from __future__ import annotations

import dataclasses
import itertools
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import make_engine, make_session_factory
from app.ingest.import_file import run_import
from app.ingest.importer import ONLINE_RETAIL
from app.ml import artifact
from app.ml.dataset import EPOCH
from app.ml.lines import confidence_matrix, sums
from app.store.events import PurchaseRow, add_purchases
from app.store.purchase_cache import PurchaseCache
from app.store.tables import Purchase
from app.training.pipeline import train
from app.training.steps import fit_on
from bench.common import data_file, database, implicit_alone, write_results

REPEATS = 3
NEW_LINES = 1000


def best_of(fn: Callable[[], Any], before: Callable[[], Any] | None = None) -> float:
    times = []
    for _ in range(REPEATS):
        if before is not None:
            before()
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def add_new_lines(session: Session, batch: int) -> None:
    """NEW_LINES purchases like the latest ones, a day after them."""
    latest = session.scalars(select(Purchase).order_by(Purchase.id.desc()).limit(NEW_LINES)).all()
    add_purchases(
        session,
        [
            PurchaseRow(
                event_id=f"bench-{batch}-{i}",
                customer_id=p.customer_id,
                product_id=p.product_id,
                quantity=p.quantity,
                unit_price=p.unit_price,
                occurred_at=p.occurred_at + timedelta(days=1),
                order_id=f"bench-{batch}-{p.order_id}",
            )
            for i, p in enumerate(latest)
        ],
    )
    session.commit()


def bench(kind: str, workdir: Path) -> dict[str, Any]:
    config = Settings().train
    with database(kind, workdir) as url:
        run_import(data_file(), ONLINE_RETAIL, database_url=url)
        engine = make_engine(url)
        factory = make_session_factory(engine)
        far = EPOCH + timedelta(days=1e5)
        timings: dict[str, float] = {}

        def cold_read() -> Any:
            with factory() as s:
                return PurchaseCache().dataset(s, before=far)

        timings["first_read"] = best_of(cold_read)
        columns = PurchaseCache()
        with factory() as s:
            columns.dataset(s, before=far)
        batches = itertools.count()

        def new_purchases() -> None:
            with factory() as s:
                add_new_lines(s, next(batches))

        def retrain_read() -> Any:
            with factory() as s:
                return columns.dataset(s, before=far)

        timings["retrain_read"] = best_of(retrain_read, before=new_purchases)
        assert columns.rows_read == NEW_LINES, columns.rows_read

        data = retrain_read()
        as_of = EPOCH + timedelta(days=data.last_day + 1)
        day = data.clock(data.last_day + 1)
        lines = data.lines(day)
        conf = confidence_matrix(sums(lines, config), len(data.customers), len(data.products), config)
        timings["matrix"] = best_of(
            lambda: confidence_matrix(sums(lines, config), len(data.customers), len(data.products), config)
        )
        timings["fit"] = best_of(lambda: fit_on(lines, data, config, day=day, until_day=day))
        model = fit_on(lines, data, config, day=day, until_day=day)
        n = itertools.count()
        timings["save"] = best_of(lambda: artifact.save(model, workdir / f"{kind}-v{next(n)}", {}))

        baseline = best_of(lambda: implicit_alone(conf, config))
        job = best_of(lambda: train(retrain_read(), as_of, config, None))
        fixed = dataclasses.replace(config, blend_trials=0)  # the blend as configured: no choice made
        fixed_job = best_of(lambda: train(retrain_read(), as_of, fixed, None))
        engine.dispose()
    # fit builds the sums and the matrix itself: "matrix" is shown apart, not added again.
    fit_and_save = timings["fit"] + timings["save"]
    return {
        "lines": len(lines),
        "customers": len(data.customers),
        "products": len(data.products),
        "timings_s": timings,
        "pipeline_retrain_s": timings["retrain_read"] + fit_and_save,
        "pipeline_first_s": timings["first_read"] + fit_and_save,
        "implicit_alone_s": baseline,
        "overhead_retrain": (timings["retrain_read"] + fit_and_save) / baseline,
        "overhead_first": (timings["first_read"] + fit_and_save) / baseline,
        "whole_job_s": job,
        "whole_job_fixed_blend_s": fixed_job,
        "blend_choice_cost": job / fixed_job,
    }


def main() -> None:
    results: dict[str, Any] = {"data": data_file().name, "new_lines_per_retrain": NEW_LINES}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("sqlite", "postgresql"):
            results[kind] = bench(kind, Path(tmp))
    lines = [
        "# Training time\n",
        f"Data: `{results['data']}`, best of {REPEATS}. Command: `python -m bench.train`.\n",
        "| store | read, first s | read, retrain s | fit s | save s | implicit alone s "
        "| pipeline ÷ implicit, retrain | pipeline ÷ implicit, first | whole job s "
        "| whole job, blend as configured s | ÷ |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for kind in ("sqlite", "postgresql"):
        r = results[kind]
        t = r["timings_s"]
        lines.append(
            f"| {kind} | {t['first_read']:.2f} | {t['retrain_read']:.3f} | {t['fit']:.2f} "
            f"| {t['save']:.2f} | {r['implicit_alone_s']:.2f} | {r['overhead_retrain']:.2f}× "
            f"| {r['overhead_first']:.2f}× | {r['whole_job_s']:.2f} | {r['whole_job_fixed_blend_s']:.2f} "
            f"| {r['blend_choice_cost']:.2f}× |"
        )
    lines.append(
        f"\nTarget: pipeline ≤ 1.5× implicit alone. `fit` is the customers' sums, the repurchase cycles, "
        "the confidence matrix, ALS and popularity (the co-purchase neighbours too when the blend weighs "
        f"them); a retrain reads the {NEW_LINES:,} lines added "
        "since the last read (and checks that nothing older changed), a first training the whole table. "
        "The whole job adds the blend's choice on the store's validation windows (app/training/blend.py), "
        "the evaluation fit and the gate; beside it the same job with `blend_trials` 0 (target: the choice "
        "costs at most 3×).\n"
    )
    write_results("train", results, "\n".join(lines))


if __name__ == "__main__":
    main()
