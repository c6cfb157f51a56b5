"""Model versions: train (a background job), inspect, list, activate (also the rollback)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from app.api.inputs import Time
from app.api.responses import ModelList, ModelVersionOut, TrainingStarted
from app.clock import to_naive_utc, utcnow
from app.serving import activation
from app.store import versions
from app.store.tables import ModelVersion
from app.training.jobs import Trainer
from app.web.deps import AdminScope, SessionDep
from app.web.errors import ApiError

router = APIRouter(prefix="/v1/models", tags=["models"], dependencies=[AdminScope])


class TrainRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    as_of: Time | None = None


def describe(row: ModelVersion) -> dict[str, Any]:
    out: dict[str, Any] = {
        "version": row.version,
        "status": row.status,
        "active": row.active,
        "metrics": row.metrics or {},
        "as_of": row.as_of.isoformat() + "Z",
        "created_at": row.created_at.isoformat() + "Z",
        "finished_at": row.finished_at.isoformat() + "Z" if row.finished_at else None,
    }
    if row.error:
        out["error"] = row.error
    return out


@router.post("", status_code=202, responses={202: {"model": TrainingStarted}})
def train(request: Request, body: Annotated[TrainRequest | None, Body()] = None) -> JSONResponse:
    as_of = to_naive_utc(body.as_of) if body is not None and body.as_of is not None else utcnow()
    if as_of > utcnow():
        raise ApiError(422, "invalid_request", "as_of: must not be in the future")
    trainer: Trainer = request.app.state.trainer
    version = trainer.start(as_of)
    return JSONResponse({"version": version, "status": "training"}, status_code=202)


@router.get("", response_model=None, responses={200: {"model": ModelList}})
def list_models(session: SessionDep) -> dict[str, Any]:
    return {"models": [describe(r) for r in versions.newest_first(session)]}


@router.get("/{version}", response_model=None, responses={200: {"model": ModelVersionOut}})
def get_model(version: str, session: SessionDep) -> dict[str, Any]:
    row = versions.get(session, version=version)
    if row is None:
        raise ApiError(404, "not_found", f"version: no model version {version!r}")
    return describe(row)


@router.post("/{version}/activate", response_model=None, responses={200: {"model": ModelVersionOut}})
def activate(version: str, request: Request, session: SessionDep) -> dict[str, Any]:
    try:
        row = activation.activate(session, request.app.state.serving, version)
    except activation.ActivationError as exc:
        raise ApiError(404 if exc.code == "not_found" else 409, exc.code, str(exc)) from exc
    return describe(row)
