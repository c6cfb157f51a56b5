"""Similar and complementary products: co-purchase neighbours first, then latent-factor ones."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from app.db import Session
from app.serving.loaded import Loaded
from app.store.purchases import inactive_products


def similar_to(
    session: Session,
    loaded: Loaded,
    *,
    product_id: str,
    limit: int,
    catalog: Mapping[str, Mapping[str, object]] | None = None,
) -> list[dict[str, object]]:
    """Products bought by the same customers (co-purchase neighbours), then latent-factor neighbours."""
    model = loaded.model
    code = model.product_index.get(product_id)
    inactive = inactive_products(session)
    ids = model.product_ids
    items: list[dict[str, object]] = []
    seen = {product_id}

    def add(candidates: np.ndarray, scores: np.ndarray) -> None:
        for c, s in zip(candidates.tolist(), scores.tolist(), strict=True):
            pid = ids[c]
            if len(items) >= limit or s <= 0:
                return
            if pid in seen or pid in inactive:
                continue
            seen.add(pid)
            items.append({"product_id": pid, "score": round(float(s), 6), **(catalog or {}).get(pid, {})})

    if code is not None and loaded.unlearned is not None:
        # A customer erased since the version was trained: co-purchases without them, and no
        # latent-factor neighbours (fitted with them) until a retrain replaces the version.
        add(*loaded.unlearned.row(code))
    elif code is not None:
        add(*model.co_purchased(code))
        if len(items) < limit and model.item_factors is not None:
            y = model.item_factors
            norms = np.maximum(np.linalg.norm(y, axis=1), 1e-9)
            cosine = (y @ y[code]) / (norms * norms[code])
            order = np.argsort(-cosine, kind="stable")[: limit * 4]
            # Below every co-purchase score: these are only alike, not bought together.
            floor = min((float(str(i["score"])) for i in items), default=1.0)
            add(order, np.maximum(cosine[order], 0.0) * floor * 0.5)
    return items
