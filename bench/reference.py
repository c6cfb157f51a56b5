"""The reference every serving figure of the scale measurements is also given against: a minimal
FastAPI app whose one handler calls ``implicit``'s ``recommend()`` on the same version's factors.

It loads a version from nbo's models folder, builds each trained customer's confidence row from the
version's own sums (the same matrix the version was fitted on) and answers
``GET /v1/customers/{id}/offers`` with the ten best products not yet bought, the customer folded in
from their row (``recalculate_user``, as nbo folds in a customer), and 404 for a customer the version
does not know. No store, no business rules, no reasons: the bare library behind the thinnest handler.
Run: ``python -m bench.reference --models DIR --version V --port P``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, HTTPException
from implicit.cpu.als import AlternatingLeastSquares
from threadpoolctl import threadpool_limits

from app.ml import artifact
from app.ml.lines import confidence_matrix


def create(folder: Path) -> FastAPI:
    threadpool_limits(1, "blas")  # as nbo's app does
    model, _ = artifact.load(folder)
    if model.item_factors is None or model.gram is None:
        raise SystemExit(f"{folder.name} has no factors")
    sums = model.customers
    rows = confidence_matrix(sums.sums, len(sums.ids), model.n_products, model.config).tocsr()
    # One thread, as one worker per core runs: implicit's default (every core) for a single
    # customer's top-k costs 20× more at 40,000 products than one thread does.
    als = AlternatingLeastSquares(
        factors=model.item_factors.shape[1],
        regularization=model.config.regularization,
        random_state=0,
        num_threads=1,
    )
    als.item_factors = model.item_factors
    als.user_factors = None
    ids = model.product_ids
    app = FastAPI()

    @app.get("/v1/customers/{customer_id}/offers")
    async def offers(customer_id: str, limit: int = 10) -> dict[str, Any]:
        code = sums.ids.get(customer_id)
        if code is None:
            raise HTTPException(404, "unknown customer")
        found, scores = als.recommend(
            0, rows[code], N=limit, filter_already_liked_items=True, recalculate_user=True
        )
        return {
            "offers": [{"product_id": ids[p], "score": float(s)} for p, s in zip(found, scores, strict=True)]
        }

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, required=True)
    parser.add_argument("--version", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(create(args.models / args.version), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
