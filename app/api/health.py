"""Liveness and readiness: open to all, no key needed."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from app.api.responses import Ready
from app.db import SessionFactory, StoreError
from app.metrics import exposition
from app.store.purchases import ping

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={200: {"description": "Prometheus text format", "content": {"text/plain": {}}}},
)
def metrics() -> Response:
    content, media_type = exposition()
    return Response(content, media_type=media_type)


@router.get("/readyz", responses={200: {"model": Ready}})
def readyz(request: Request) -> JSONResponse:
    factory: SessionFactory = request.app.state.session_factory
    try:
        with factory() as session:
            ping(session)
    except StoreError as exc:
        return JSONResponse(
            {"error": {"code": "database_unavailable", "message": f"database: {type(exc).__name__}"}},
            status_code=503,
        )
    serving = getattr(request.app.state, "serving", None)
    model = serving.describe() if serving is not None else "none"
    return JSONResponse({"status": "ready", "model": model})
