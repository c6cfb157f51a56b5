"""Campaigns: an audience, each recipient's own offers on the channel the policy allows, recorded in
the contact ledger (a real run, in the background) or only counted (a dry run).

A recipient's channel is the one the campaign names, or with "preferred" their preferred channel if
they consented to it, else the first of email, sms, phone they consented to. Sends go in batches;
each batch holds the campaign lock while it checks the caps and records, so that campaigns running
at once never exceed a cap together. While an experiment runs, a recipient in its holdout is reached
(recorded, for the experiment's results) but sent nothing; the other variants' strategy or version
makes their offers.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from app.clock import utcnow
from app.customers.audiences import Audience, audience
from app.customers.base import Bases
from app.db import Session, SessionFactory
from app.serving import policy
from app.serving.loaded import Loaded, Serving
from app.serving.offers import offers_for
from app.store import campaigns as store
from app.store import erasure
from app.store.contact_read import ContactReader
from app.store.contacts import ContactState
from app.store.customers import CONSENTS
from app.store.offers_read import OffersReader
from app.store.recommendations import new_recommendation_id

SKIPS = ("no_consent", "capped", "cooldown", "fatigue", "no_offer", "holdout")
_SKIP_OF = {"no_consent": "no_consent", "cap": "capped", "cooldown": "cooldown", "fatigue": "fatigue"}
BATCH = 200
EVERYONE = 2**62  # an audience's limit for a whole campaign
PREVIEW = 20
INTERRUPTED = "interrupted: the service stopped before the campaign finished"


@dataclass(frozen=True)
class Spec:
    name: str
    audience: Audience
    channel: str  # "preferred" or a channel
    offers_per_recipient: int
    as_of: datetime | None
    strategy: str  # "auto", or "refill" (the default when the audience asks for refills due)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        rule = out["audience"]
        if rule["segments"] is not None:
            rule["segments"] = sorted(rule["segments"])
        out["as_of"] = self.as_of.isoformat() + "Z" if self.as_of is not None else None
        return out


@dataclass
class Tally:
    recipients: int = 0
    seen: int = 0
    skipped: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SKIPS, 0))
    preview: list[dict[str, Any]] = field(default_factory=list)


def channel_for(spec: Spec, preferred: str | None, state: ContactState) -> str | None:
    if spec.channel != "preferred":
        return spec.channel
    if preferred is not None and policy.consents(state, preferred):
        return preferred
    return next((c for c in CONSENTS if policy.consents(state, c)), None)


def _audience(session: Session, bases: Bases, loaded: Loaded, spec: Spec) -> list[list[dict[str, Any]]]:
    """The whole audience in batches: one pass over the base (its refills due are computed once,
    where pages of it would each compute them again)."""
    members = audience(
        session, bases, loaded, as_of=spec.as_of, rule=spec.audience, limit=EVERYONE, after=None
    )["customers"]
    return [members[i : i + BATCH] for i in range(0, len(members), BATCH)]


async def run(
    factory: SessionFactory,
    reader: OffersReader,
    contacts: ContactReader,
    bases: Bases,
    serving: Serving,
    loaded: Loaded,
    spec: Spec,
    campaign_id: str,
    *,
    dry_run: bool,
    stopping: threading.Event | None = None,
) -> Tally:
    """Plan (dry run) or send the campaign; the campaign row follows its progress."""
    tally = Tally()
    started = utcnow()
    experiment = serving.experiment  # a holdout's members are reached and sent nothing
    catalog = serving.catalog
    with factory() as reading:
        pages = _audience(reading, bases, loaded, spec)
    total = sum(len(p) for p in pages)
    for page in pages:
        if stopping is not None and stopping.is_set():
            raise InterruptedError(INTERRUPTED)
        with factory() as session:
            if not dry_run:
                # An erasure running now finishes first, or waits; its customer is left out.
                gone = erasure.hold_writes(session, (m["customer_id"] for m in page), started)
                store.hold_sends(session)
                page = [m for m in page if m["customer_id"] not in gone]
            now = utcnow() if spec.as_of is None else spec.as_of
            rules = policy.load(session)  # as stored now: another process may have changed it
            # Read after the locks: what campaigns before this batch sent is counted.
            ids = [m["customer_id"] for m in page]
            read = [contacts.read(c, now, **rules.reads()) for c in ids]
            states = dict(zip(ids, await asyncio.gather(*read), strict=True))
            sends: list[store.SendRow] = []
            for member in page:
                tally.seen += 1
                customer_id = member["customer_id"]
                state = states[customer_id]
                channel = channel_for(spec, member["preferred_channel"], state)
                blocked = "no_consent" if channel is None else policy.blocked_by(rules, state, channel, now)
                if blocked is not None or channel is None:
                    tally.skipped[_SKIP_OF[blocked or "no_consent"]] += 1
                    continue
                variant = experiment.assign(customer_id) if experiment is not None else None
                if variant is not None and variant.holdout:  # reached, and sent nothing: the control
                    tally.skipped["holdout"] += 1
                    sends.append(
                        store.SendRow(
                            recommendation_id=new_recommendation_id(),
                            customer_id=customer_id,
                            channel=channel,
                            campaign_id=campaign_id,
                            model_version=loaded.version,
                            strategy="holdout",
                            product_ids=[],
                            sent_at=now,
                            experiment=experiment.name if experiment is not None else None,
                            variant=variant.name,
                            contacted=False,
                        )
                    )
                    continue
                served = serving.for_variant(loaded, variant)  # this job's own thread may load
                answer = await offers_for(
                    reader,
                    served,
                    customer_id=customer_id,
                    limit=spec.offers_per_recipient,
                    exclude_purchased=False,
                    as_of=now,
                    strategy=variant.strategy if variant is not None and variant.strategy else spec.strategy,
                    avoid=frozenset(policy.fatigue(rules, state).products),
                    catalog=catalog,
                )
                assert answer is not None  # no gate: always an answer
                products = [str(o["product_id"]) for o in answer["offers"]]  # type: ignore[attr-defined]
                if not products:
                    tally.skipped["no_offer"] += 1
                    continue
                tally.recipients += 1
                row = store.SendRow(
                    recommendation_id=new_recommendation_id(),
                    customer_id=customer_id,
                    channel=channel,
                    campaign_id=campaign_id,
                    model_version=served.version,
                    strategy=str(answer["strategy"]),
                    product_ids=products,
                    sent_at=now,  # the campaign's moment: attribution counts from it
                    experiment=experiment.name if experiment is not None and variant is not None else None,
                    variant=variant.name if variant is not None else None,
                    contacted=True,
                )
                policy.count_contact(state, channel)
                sends.append(row)
                if len(tally.preview) < PREVIEW:
                    tally.preview.append(
                        {
                            "customer_id": customer_id,
                            "channel": channel,
                            "recommendation_id": row["recommendation_id"],
                            "offers": products,
                            "products": [{"product_id": p, **catalog.get(p, {})} for p in products],
                        }
                    )
            if not dry_run:
                store.record_sends(session, sends)
            store.update_counts(
                session,
                campaign_id,
                recipients=tally.recipients,
                skipped=tally.skipped,
                progress={"customers": total, "done": tally.seen, "at": utcnow().isoformat() + "Z"},
                preview=tally.preview,
            )
            session.commit()
    return tally
