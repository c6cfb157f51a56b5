"""Real campaigns as jobs: one at a time in a background thread, each with an offers reader of its
own; at shutdown a campaign not finished is marked failed (what it sent stays recorded)."""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta

from app.clock import utcnow
from app.customers.base import Bases
from app.customers.campaigns import INTERRUPTED, Spec, Tally, run
from app.db import Engine, SessionFactory, StoreError
from app.serving.loaded import Loaded, Serving
from app.store import campaigns as store
from app.store.contact_read import ContactReader
from app.store.offers_read import OffersReader

log = logging.getLogger("nbo.campaigns")

STALE = timedelta(minutes=10)
ABANDONED = "abandoned: no batch recorded for 10 minutes; the process that ran it stopped"


class Campaigns:
    """Runs real campaigns one at a time in a background thread, each with an offers reader of its
    own; at shutdown a campaign not finished is marked failed (what it sent stays recorded)."""

    def __init__(self, factory: SessionFactory, engine: Engine, serving: Serving, bases: Bases) -> None:
        self.factory, self.engine, self.serving, self.bases = factory, engine, serving, bases
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nbo-campaign")
        self.stopping = threading.Event()
        self._running: set[str] = set()
        self._lock = threading.Lock()

    def start(self, spec: Spec, *, dry_run: bool) -> tuple[str, Future[None] | None]:
        """Record the campaign; a dry run is planned now, a real run queued. Returns its id."""
        loaded = self.serving.current
        if loaded is None:
            raise LookupError("model: nothing loaded yet")
        campaign_id = f"cmp_{utcnow():%Y%m%dT%H%M%S}_{secrets.token_hex(4)}"
        with self.factory() as session:
            store.create(
                session,
                campaign_id=campaign_id,
                name=spec.name,
                spec=spec.to_dict(),
                status="dry_run" if dry_run else "running",
            )
            session.commit()
        if dry_run:
            asyncio.run(self._run(loaded, spec, campaign_id, dry_run=True))
            return campaign_id, None
        with self._lock:
            self._running.add(campaign_id)
        return campaign_id, self.pool.submit(self._job, loaded, spec, campaign_id)

    async def _run(self, loaded: Loaded, spec: Spec, campaign_id: str, *, dry_run: bool) -> Tally:
        reader, contacts = OffersReader(self.engine), ContactReader(self.engine)
        try:
            return await run(
                self.factory,
                reader,
                contacts,
                self.bases,
                self.serving,
                loaded,
                spec,
                campaign_id,
                dry_run=dry_run,
                stopping=self.stopping,
            )
        finally:
            await reader.aclose()
            await contacts.aclose()

    def _job(self, loaded: Loaded, spec: Spec, campaign_id: str) -> None:
        try:
            tally = asyncio.run(self._run(loaded, spec, campaign_id, dry_run=False))
            with self.factory() as session:
                store.update_counts(
                    session,
                    campaign_id,
                    recipients=tally.recipients,
                    skipped=tally.skipped,
                    progress={"customers": tally.seen, "done": tally.seen, "at": utcnow().isoformat() + "Z"},
                    status="done",
                )
                session.commit()
            log.info(
                "campaign %s done: %d recipients, skipped %s", campaign_id, tally.recipients, tally.skipped
            )
        except Exception as exc:
            log.exception("campaign %s failed", campaign_id)
            with self.factory() as session:
                store.fail_running(session, f"{type(exc).__name__}: {exc}", [campaign_id])
                session.commit()
        finally:
            with self._lock:
                self._running.discard(campaign_id)

    def abandon_stale(self) -> None:
        """Mark failed the campaigns left running by a process that stopped: none of their batches
        has been recorded for STALE (a batch takes seconds)."""
        try:
            with self.factory() as session:
                n = store.fail_stale(session, utcnow() - STALE, ABANDONED)
                session.commit()
        except StoreError:  # the store may be away at start; a later start retries
            log.exception("could not check for abandoned campaigns")
            return
        if n:
            log.warning("marked %d abandoned campaign(s) failed", n)

    def shutdown(self) -> None:
        self.stopping.set()
        self.pool.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            left = sorted(self._running)
        if left:
            with self.factory() as session:
                store.fail_running(session, INTERRUPTED, left)
                session.commit()
