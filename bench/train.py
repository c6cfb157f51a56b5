"""Training time: nbo's pipeline against ``implicit`` alone on the same confidence matrix.

The pipeline is what a version costs: read every purchase before as_of from the store, build the
matrix, fit (ALS factors, co-purchase neighbours, popularity), save the artifact. The baseline is
``implicit``'s ALS fit on that same matrix with the same parameters, in the same process. The whole
job (which also fits once more on the evaluation split and evaluates) is reported beside it.
Run: ``python -m bench.train``.
"""

from __future__ import annotations

import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from threadpoolctl import threadpool_limits

from app.config import Settings
from app.db import make_engine, make_session_factory
from app.history import purchases_before
from app.import_job import run_import
from app.importer import ONLINE_RETAIL
from app.ml import artifact
from app.ml.dataset import EPOCH
from app.ml.matrix import confidence_matrix, sums
from app.training import fit_on, train
from bench.common import data_file, database, write_results

REPEATS = 3


def best_of(fn: Any) -> float:
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def bench(kind: str, workdir: Path) -> dict[str, Any]:
    config = Settings().train
    with database(kind, workdir) as url:
        run_import(data_file(), ONLINE_RETAIL, database_url=url)
        engine = make_engine(url)
        factory = make_session_factory(engine)
        with factory() as s:
            probe = purchases_before(s, before=EPOCH + timedelta(days=1e5))
        as_of = EPOCH + timedelta(days=probe.last_day + 1)
        timings: dict[str, float] = {}

        def read() -> Any:
            with factory() as s:
                return purchases_before(s, before=as_of)

        data = read()
        day = data.clock(data.last_day + 1)
        lines = data.lines(day)
        conf = confidence_matrix(sums(lines, config), len(data.customers), len(data.products), config)
        timings["store_read"] = best_of(read)
        timings["matrix"] = best_of(
            lambda: confidence_matrix(sums(lines, config), len(data.customers), len(data.products), config)
        )
        timings["fit"] = best_of(lambda: fit_on(lines, data, config, day=day, until_day=day))
        model = fit_on(lines, data, config, day=day, until_day=day)
        n = iter(range(100))
        timings["save"] = best_of(lambda: artifact.save(model, workdir / f"{kind}-v{next(n)}", {}))

        def implicit_alone() -> None:
            from implicit.cpu.als import AlternatingLeastSquares

            with threadpool_limits(1, "blas"):
                als = AlternatingLeastSquares(
                    factors=config.factors,
                    regularization=config.regularization,
                    iterations=config.iterations,
                    random_state=config.random_state,
                )
                als.fit(conf, show_progress=False)

        baseline = best_of(implicit_alone)
        job = best_of(lambda: train(read(), as_of, config, None))
        engine.dispose()
    pipeline = sum(timings.values())
    return {
        "lines": len(lines),
        "customers": len(data.customers),
        "products": len(data.products),
        "timings_s": timings,
        "pipeline_s": pipeline,
        "implicit_alone_s": baseline,
        "overhead": pipeline / baseline,
        "whole_job_s": job,
    }


def main() -> None:
    results: dict[str, Any] = {"data": data_file().name}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("sqlite", "postgresql"):
            results[kind] = bench(kind, Path(tmp))
    lines = [
        "# Training time\n",
        f"Data: `{results['data']}`, best of {REPEATS}. Command: `python -m bench.train`.\n",
        "| store | read s | matrix s | fit s | save s | pipeline s | implicit alone s | overhead "
        "| whole job s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for kind in ("sqlite", "postgresql"):
        r = results[kind]
        t = r["timings_s"]
        lines.append(
            f"| {kind} | {t['store_read']:.2f} | {t['matrix']:.2f} | {t['fit']:.2f} | {t['save']:.2f} | "
            f"{r['pipeline_s']:.2f} | {r['implicit_alone_s']:.2f} | {r['overhead']:.2f}× "
            f"| {r['whole_job_s']:.2f} |"
        )
    lines.append(
        "\nTarget: pipeline ≤ 1.5× implicit alone. `fit` is ALS plus the co-purchase neighbours and "
        "popularity; "
        "the whole job adds the evaluation fit and the gate.\n"
    )
    write_results("train", results, "\n".join(lines))


if __name__ == "__main__":
    main()
