"""A served version that holds a customer erased since it was trained: until the retrain the
erasure started replaces it, its co-purchase neighbours are recomputed without them, so that
``/similar`` carries no trace of them from the moment the erasure returns (in the process that ran
it; in the others from their next poll)."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING

from app.db import Session
from app.ml.dataset import from_day
from app.ml.neighbours import without_customers
from app.store.erasure import customer_hash, erased_since

if TYPE_CHECKING:  # loaded.py uses this module
    from app.serving.loaded import Loaded


def unlearned(session: Session, loaded: Loaded) -> Loaded:
    """``loaded`` with the customers erased since its version began taken out of its co-purchases
    (itself when there are none, or they were taken out already)."""
    if loaded.version is None or not math.isfinite(loaded.begun_day):
        return loaded
    hashes = erased_since(session, from_day(loaded.begun_day)) - loaded.forgotten
    if not hashes:
        return loaded
    ids = loaded.model.customers.ids
    codes = [i for i, c in enumerate(ids.ids) if customer_hash(c) in hashes | loaded.forgotten]
    if not codes:
        return replace(loaded, forgotten=loaded.forgotten | hashes)
    model = loaded.model
    return replace(
        loaded,
        forgotten=loaded.forgotten | hashes,
        unlearned=without_customers(model.confidence(), codes, model.config.neighbours),
    )
