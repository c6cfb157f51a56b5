"""Campaigns: an audience, each recipient's own offers under the contact policy; a dry run counts,
a real run sends in the background; the recipients export as JSON or CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from app.api.inputs import CampaignIn
from app.api.responses import CampaignList, CampaignOut, Recipient
from app.clock import to_naive_utc
from app.customers.audiences import Audience
from app.customers.campaign_jobs import Campaigns
from app.customers.campaigns import SKIPS, Spec
from app.db import SessionFactory
from app.store import campaigns as store
from app.store.tables import Campaign
from app.web.deps import AdminScope, SessionDep
from app.web.errors import ApiError

router = APIRouter(prefix="/v1/campaigns", tags=["reach"], dependencies=[AdminScope])


def describe(row: Campaign) -> dict[str, Any]:
    return {
        "campaign_id": row.campaign_id,
        "name": row.name,
        "status": row.status,
        "recipients": row.recipients,
        "skipped": {k: int((row.skipped or {}).get(k, 0)) for k in SKIPS},
        "progress": {k: v for k, v in (row.progress or {}).items() if k != "at"},
        "preview": row.preview or [],
        "created_at": row.created_at.isoformat() + "Z",
        "finished_at": row.finished_at.isoformat() + "Z" if row.finished_at else None,
        "error": row.error,
    }


def spec_of(body: CampaignIn) -> Spec:
    a = body.audience
    rule = Audience(
        segments=frozenset(a.segment) if a.segment else None,
        min_p_active=a.min_p_active,
        max_p_active=a.max_p_active,
        min_expected=a.min_expected_purchases,
        min_expected_spend=a.min_expected_spend_90d,
        due_within_days=a.due_within_days,
        channel=a.channel,
        consent=a.consent,
    )
    strategy = body.strategy or ("refill" if a.due_within_days is not None else "auto")
    return Spec(
        name=body.name,
        audience=rule,
        channel=body.channel,
        offers_per_recipient=body.offers_per_recipient,
        as_of=to_naive_utc(body.as_of) if body.as_of is not None else None,
        strategy=strategy,
    )


@router.post("", status_code=201, response_model=None, responses={201: {"model": CampaignOut}})
def create_campaign(body: CampaignIn, request: Request, session: SessionDep) -> JSONResponse:
    """A dry run answers with its counts and a preview; a real run answers at once (status
    ``running``) and goes on in the background: ``GET /v1/campaigns/{id}`` follows it."""
    runner: Campaigns = request.app.state.campaigns
    try:
        campaign_id, _ = runner.start(spec_of(body), dry_run=body.dry_run)
    except LookupError as exc:
        raise ApiError(503, "no_model", str(exc)) from exc
    row = store.get(session, campaign_id)
    assert row is not None
    return JSONResponse(describe(row), status_code=201)


@router.get("", response_model=None, responses={200: {"model": CampaignList}})
def list_campaigns(session: SessionDep) -> dict[str, Any]:
    return {"campaigns": [describe(r) for r in store.newest_first(session)]}


def _found(session: SessionDep, campaign_id: str) -> Campaign:
    row = store.get(session, campaign_id)
    if row is None:
        raise ApiError(404, "not_found", f"campaign_id: no campaign {campaign_id!r}")
    return row


@router.get("/{campaign_id}", response_model=None, responses={200: {"model": CampaignOut}})
def get_campaign(campaign_id: str, session: SessionDep) -> dict[str, Any]:
    return describe(_found(session, campaign_id))


FIELDS = ("customer_id", "channel", "recommendation_id", "offers", "products")


@router.get(
    "/{campaign_id}/recipients",
    response_model=None,
    responses={
        200: {
            "model": list[Recipient],
            "content": {"text/csv": {"schema": {"type": "string", "description": "the same rows as CSV"}}},
        }
    },
)
def export_recipients(
    campaign_id: str,
    request: Request,
    session: SessionDep,
    format: Annotated[Literal["json", "csv"], Query(description="a JSON array, or CSV")] = "json",
) -> StreamingResponse:
    """One row per recipient, streamed: customer_id, channel, recommendation_id, offers (product
    ids, best first) and products (each with the catalogue's name, category and price); in CSV the
    two lists are JSON arrays. A dry run's are its preview."""
    row = _found(session, campaign_id)
    preview = list(row.preview or []) if row.status == "dry_run" else None
    factory: SessionFactory = request.app.state.session_factory
    session.close()  # its connection goes back now, not once the last row is sent

    catalog = request.app.state.serving.catalog

    def rows() -> Iterator[dict[str, Any]]:
        if preview is not None:
            yield from preview
            return
        with factory() as reading, store.recipients(reading, campaign_id) as found:
            for row in found:
                row["products"] = [{"product_id": p, **catalog.get(p, {})} for p in row["offers"]]
                yield row

    if format == "csv":
        return StreamingResponse(_csv(rows()), media_type="text/csv")
    return StreamingResponse(_json(rows()), media_type="application/json")


def _json(rows: Iterator[dict[str, Any]]) -> Iterator[str]:
    yield "["
    for i, row in enumerate(rows):
        yield ("," if i else "") + json.dumps({k: row[k] for k in FIELDS}, separators=(",", ":"))
    yield "]"


def _csv(rows: Iterator[dict[str, Any]]) -> Iterator[str]:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(FIELDS)
    for n, row in enumerate(rows, 1):
        lists = [json.dumps(row["offers"]), json.dumps(row["products"])]
        writer.writerow([row["customer_id"], row["channel"], row["recommendation_id"], *lists])
        if n % 500 == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()
