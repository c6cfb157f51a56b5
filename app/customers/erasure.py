"""Erasure: a customer's right to be forgotten, in the store, in what runs at the same time, and in
every model version kept on disk."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from app.db import Session
from app.ml import artifact
from app.store import erasure as store
from app.store import versions
from app.store.purchase_cache import PurchaseCache
from app.training.jobs import Trainer

log = logging.getLogger("nbo.erasure")


@dataclass
class Erased:
    rows: int  # rows deleted
    retired: list[str] = field(default_factory=list)  # versions that held them, never to be active again
    active_holds: bool = False  # the active version holds them: it is retired once a retrain replaces it


def erase(session: Session, customer_id: str, models_dir: Path) -> Erased:
    """Delete every row about the customer and retire every version trained on them.

    Two transactions: the first deletes; the second deletes again what requests that began before
    the first commit wrote since, and stamps the erasure, which every writer checks from then on
    (app/store/erasure.py): after it, no row about them can appear from a request that began earlier."""
    rows = store.erase_customer(session, customer_id=customer_id)
    session.commit()
    rows += store.erase_customer(session, customer_id=customer_id, stamp=True)
    session.commit()
    erased = Erased(rows)
    store.begin_write(session)
    for version in versions.ready(session):
        try:
            held = customer_id in set(artifact.customer_ids(models_dir / version))
        except artifact.ArtifactError:
            continue  # nothing readable left, and serving refuses such a version anyway
        if held:
            outcome = versions.retire(session, version=version)
            if outcome == "retired":
                erased.retired.append(version)
            erased.active_holds |= outcome == "marked"
    session.commit()
    artifact.remove(models_dir, erased.retired)
    if erased.retired:
        log.info(
            "retired %d version(s) trained on an erased customer: %s", len(erased.retired), erased.retired
        )
    return erased


def forget(session: Session, customer_id: str, *, trainer: Trainer, purchases: PurchaseCache) -> Erased:
    """The whole erasure: the store and the kept versions (``erase``), this process's copy of the
    purchases at once (its profiles and segments), and a retrain without them, which replaces (and
    retires) an active version that holds them."""
    erased = erase(session, customer_id, trainer.models_dir)
    if erased.rows:
        purchases.refresh(session)
    if erased.rows or erased.active_holds:
        trainer.retrain()
    return erased
