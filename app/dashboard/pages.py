"""The dashboard's routes: the five views, the login, and the admin's activate (rollback); each
gathers its figures with one function and renders one template."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from app.api.campaigns import export_recipients
from app.api.offers import loaded_model
from app.clock import utcnow
from app.config import Settings
from app.dashboard import render
from app.dashboard.lookup import lookup
from app.dashboard.overview import overview
from app.dashboard.people import people
from app.dashboard.reach import reach
from app.dashboard.session import (
    COOKIE,
    LoginRequiredError,
    RefusedError,
    Viewer,
    issue,
    login_url,
    next_path,
    require_admin,
    same_origin,
    viewer,
)
from app.dashboard.versions import models
from app.ingest.bounds import EARLIEST
from app.serving import activation
from app.store import versions as stored_versions
from app.web.auth import scopes_for
from app.web.deps import SessionDep

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")
render.install(templates.env)

router = APIRouter(prefix="/dashboard", include_in_schema=False)
ViewerDep = Annotated[Viewer, Depends(viewer)]

# The pages load their scripts, styles and images from here only; nothing runs inline.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def as_of_day(raw: str | None) -> datetime | None:
    """The page's "as of" date (the start of that day, UTC); None for now."""
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise RefusedError(422, f"as_of: {raw!r} is not a date (YYYY-MM-DD)") from None
    if not EARLIEST <= datetime(day.year, day.month, day.day) <= utcnow():
        raise RefusedError(422, f"as_of: {raw} is not between {EARLIEST:%Y-%m-%d} and today")
    return datetime(day.year, day.month, day.day)


AsOfDay = Annotated[str | None, Query(alias="as_of", max_length=10)]


def page(request: Request, name: str, who: Viewer | None, status: int = 200, **context: Any) -> HTMLResponse:
    response = templates.TemplateResponse(
        request, name, {"viewer": who, "now": utcnow(), **context}, status_code=status
    )
    response.headers["Content-Security-Policy"] = CSP
    response.headers["Cache-Control"] = "no-store"  # the figures are per key and move
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def dated(day: str | None, figures: dict[str, Any], what: str) -> dict[str, Any]:
    """What the "as of" form of a view needs: the day asked for, and the latest purchase (or offer)
    it offers to look at when the store's data ends in the past."""
    return {"as_of": day, "latest": figures[f"latest_{what}"], "latest_what": what}


@router.get("", response_class=HTMLResponse)
def overview_page(request: Request, who: ViewerDep, session: SessionDep, day: AsOfDay = None) -> HTMLResponse:
    state = request.app.state
    as_of = as_of_day(day)
    figures = overview(session, state.derived.bases, loaded_model(request), state.settings, utcnow(), as_of)
    return page(request, "overview.html", who, view="overview", o=figures, **dated(day, figures, "purchase"))


@router.get("/customers", response_class=HTMLResponse)
def customers_page(
    request: Request, who: ViewerDep, session: SessionDep, day: AsOfDay = None
) -> HTMLResponse:
    figures = people(session, request.app.state.derived.bases, loaded_model(request), as_of_day(day))
    return page(
        request, "customers.html", who, view="customers", c=figures, **dated(day, figures, "purchase")
    )


@router.get("/reach", response_class=HTMLResponse)
def reach_page(request: Request, who: ViewerDep, session: SessionDep, day: AsOfDay = None) -> HTMLResponse:
    settings: Settings = request.app.state.settings
    end = as_of_day(day) or utcnow()
    figures = reach(
        session, request.app.state.derived.purchases, now=end, attribution_days=settings.attribution_days
    )
    return page(request, "reach.html", who, view="reach", r=figures, **dated(day, figures, "offer"))


@router.get("/campaigns/{campaign_id}/recipients.csv")
def campaign_export(campaign_id: str, request: Request, who: ViewerDep, session: SessionDep) -> Response:
    """The recipients export of GET /v1/campaigns/{id}/recipients?format=csv, for the page's link:
    it carries customers' ids and offers, so it needs an admin key, as the API does."""
    require_admin(who)
    response = export_recipients(campaign_id, request, session, format="csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{campaign_id}-recipients.csv"'
    return response


@router.get("/models", response_class=HTMLResponse)
def models_page(
    request: Request, who: ViewerDep, session: SessionDep, activated: str | None = None
) -> HTMLResponse:
    figures = models(session, loaded_model(request).version)
    return page(request, "models.html", who, view="models", m=figures, activated=activated)


@router.get("/models/{version}/activate", response_class=HTMLResponse)
def confirm_activation(version: str, request: Request, who: ViewerDep, session: SessionDep) -> HTMLResponse:
    require_admin(who)
    row = stored_versions.get(session, version=version)
    if row is None:
        raise RefusedError(404, f"There is no model version {version}.")
    active = stored_versions.active(session)
    return page(
        request, "confirm.html", who, view="models", version=row, active=active.version if active else None
    )


@router.post("/models/{version}/activate")
def activate_version(version: str, request: Request, who: ViewerDep, session: SessionDep) -> Response:
    require_admin(who)
    same_origin(request)
    try:
        activation.activate(session, request.app.state.serving, version)
    except activation.ActivationError as exc:
        raise RefusedError(404 if exc.code == "not_found" else 409, str(exc)) from exc
    return RedirectResponse(f"/dashboard/models?activated={version}", status_code=303)


@router.get("/lookup", response_class=HTMLResponse)
async def lookup_page(
    request: Request,
    who: ViewerDep,
    session: SessionDep,
    customer_id: Annotated[str | None, Query(max_length=64)] = None,
    day: AsOfDay = None,
) -> HTMLResponse:
    as_of = as_of_day(day)
    customer_id = (customer_id or "").strip() or None
    if customer_id is None or "\x00" in customer_id:
        return page(request, "lookup.html", who, view="lookup", found=None, asked=None, as_of=day)
    state = request.app.state
    found = await lookup(
        session,
        bases=state.derived.bases,
        serving=state.serving,
        loaded=loaded_model(request),
        reader=state.derived.offers_read,
        contacts=state.derived.contact_read,
        customer_id=customer_id,
        as_of=as_of,
    )
    status = 200 if found["profile"] is not None else 404
    return page(request, "lookup.html", who, status, view="lookup", found=found, asked=customer_id, as_of=day)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None) -> HTMLResponse:
    return page(request, "login.html", None, view="login", next=next_path(next), problem=None)


async def form(request: Request) -> dict[str, str]:
    """A form posted as application/x-www-form-urlencoded (the only kind the pages send): its
    fields, the first value of each."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        raise RefusedError(415, "The form must be sent as application/x-www-form-urlencoded.")
    fields = parse_qs((await request.body()).decode("utf-8", "replace"), max_num_fields=10)
    return {k: v[0] for k, v in fields.items()}


@router.post("/login", response_model=None)
async def login(request: Request) -> Response:
    fields = await form(request)
    key, next = fields.get("key", "")[:512], fields.get("next", "/dashboard")
    settings: Settings = request.app.state.settings
    scopes = scopes_for(settings.api_keys, key.strip()) if settings.api_keys else None
    if settings.api_keys and (scopes is None or "read" not in scopes):
        problem = "This key is not known." if scopes is None else "This key lacks the 'read' scope."
        return page(request, "login.html", None, 401, view="login", next=next_path(next), problem=problem)
    response = RedirectResponse(next_path(next), status_code=303)
    if settings.api_keys:
        response.set_cookie(
            COOKIE,
            issue(key.strip()),
            path="/dashboard",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
    return response


@router.post("/logout")
def logout(request: Request) -> Response:
    same_origin(request)
    response = RedirectResponse("/dashboard/login", status_code=303)
    response.delete_cookie(COOKIE, path="/dashboard")
    return response


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/dashboard/static", StaticFiles(directory=HERE / "static"), name="dashboard-static")

    async def to_login(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequiredError)
        query = request.url.query
        return RedirectResponse(login_url(exc.path + (f"?{query}" if query else "")), status_code=303)

    async def refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RefusedError)
        return await run_in_threadpool(
            page, request, "refused.html", None, exc.status, view="refused", message=exc.message
        )

    app.add_exception_handler(LoginRequiredError, to_login)
    app.add_exception_handler(RefusedError, refused)
