"""Model versions: train (a background job), inspect, list, activate (also the rollback)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from app import versions
from app.deps import AdminScope, SessionDep
from app.errors import ApiError
from app.ml import artifact
from app.schemas import ModelList, ModelVersionOut, Time, TrainingStarted, to_naive_utc, utcnow
from app.serving import Serving
from app.tables import ModelVersion
from app.training import Trainer

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
def train(
    request: Request, session: SessionDep, body: Annotated[TrainRequest | None, Body()] = None
) -> JSONResponse:
    as_of = to_naive_utc(body.as_of) if body is not None and body.as_of is not None else utcnow()
    if as_of > utcnow():
        raise ApiError(422, "invalid_request", "as_of: must not be in the future")
    row = versions.create(session, as_of=as_of)
    session.commit()
    trainer: Trainer = request.app.state.trainer
    trainer.submit(row.version, as_of)
    return JSONResponse({"version": row.version, "status": "training"}, status_code=202)


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
    row = versions.get(session, version=version)
    if row is None:
        raise ApiError(404, "not_found", f"version: no model version {version!r}")
    if row.status != "ready":
        raise ApiError(
            409, "not_ready", f"version: {version} is {row.status}, only a ready version can be active"
        )
    serving: Serving = request.app.state.serving
    # The write gets a transaction of its own: on SQLite a transaction that has read cannot take the
    # write lock once another connection has written since (the recommendation writer does, often);
    # it fails at once instead of waiting.
    session.commit()
    try:
        # This process serves the version before the answer says it is active; the others follow
        # on their next poll.
        with serving.serving_first(version):
            retired = versions.activate(session, version=version)
            session.commit()
    except artifact.ArtifactError as exc:
        raise ApiError(409, "artifact_invalid", f"version: {exc}") from exc
    except versions.NotReadyError as exc:
        session.rollback()
        raise ApiError(409, "not_ready", f"version: {version} is no longer ready") from exc
    artifact.remove(serving.models_dir, retired)
    session.refresh(row)
    return describe(row)
