"""One offers request, whole: the contact policy when a channel is named, the experiment's variant
(a strategy, another version, or the holdout's nothing), the decision, and the log of what was
offered, which attribution and the experiment's results read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from starlette.concurrency import run_in_threadpool

from app.serving.loaded import Loaded, Serving
from app.serving.offers import offers_for
from app.serving.policy import Verdict, verdict
from app.store.contact_read import ContactReader
from app.store.offers_read import OffersReader
from app.store.recommendations import RecommendationLog, new_recommendation_id


@dataclass(frozen=True)
class Offering:
    """What an offers request needs of the app."""

    serving: Serving
    reader: OffersReader
    log: RecommendationLog | None  # None: a preview (the dashboard's), not an offer made
    contacts: ContactReader


async def answer(
    offering: Offering,
    loaded: Loaded,
    *,
    customer_id: str,
    limit: int,
    exclude_purchased: bool,
    as_of: datetime,
    strategy: str,
    channel: str | None,
    started: datetime,
) -> dict[str, object]:
    """The answer of ``GET /v1/customers/{id}/offers``; ``started`` is when the request began."""
    found: Verdict | None = None
    rules = offering.serving.policy

    async def check() -> frozenset[str] | None:
        """The contact policy's verdict on ``channel``: None when blocked, else what to avoid."""
        nonlocal found
        assert channel is not None
        state = await offering.contacts.read(customer_id, as_of, **rules.reads())
        found = verdict(rules, state, channel, as_of)
        return None if found.blocked_by is not None else found.avoid

    experiment = offering.serving.experiment
    variant = experiment.assign(customer_id) if experiment is not None else None
    out: dict[str, object] | None
    if variant is not None and variant.holdout:
        if channel is not None:
            await check()
        out = (
            None
            if found is not None and found.blocked_by is not None
            else _empty(customer_id, loaded, "holdout")
        )
    else:
        if variant is not None and variant.model_version is not None:
            loaded = await run_in_threadpool(offering.serving.for_variant, loaded, variant)
        out = await offers_for(
            offering.reader,
            loaded,
            customer_id=customer_id,
            limit=limit,
            exclude_purchased=exclude_purchased,
            as_of=as_of,
            strategy=variant.strategy if variant is not None and variant.strategy else strategy,
            catalog=offering.serving.catalog,
            gate=check() if channel is not None else None,
        )
    if out is None:  # the policy keeps the offers from going out on this channel
        assert found is not None
        return {
            **_empty(customer_id, loaded, "blocked"),
            "contactable": False,
            "blocked_by": found.blocked_by,
        }
    if offering.log is not None:
        offering.log.record(
            str(out["recommendation_id"]),
            customer_id,
            loaded.version,
            str(out["strategy"]),
            [str(o["product_id"]) for o in out["offers"]],  # type: ignore[attr-defined]
            issued_at=started,
            channel=channel,
            experiment=experiment.name if variant is not None and experiment is not None else None,
            variant=variant.name if variant is not None else None,
        )
    if experiment is not None and variant is not None:
        out["experiment"] = {"name": experiment.name, "variant": variant.name}
    if found is not None:
        out["contactable"] = True
        out["blocked_by"] = None
    return out


def _empty(customer_id: str, loaded: Loaded, strategy: str) -> dict[str, object]:
    return {
        "recommendation_id": new_recommendation_id(),
        "customer_id": customer_id,
        "model_version": loaded.version,
        "strategy": strategy,
        "offers": [],
    }
