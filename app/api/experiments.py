"""Experiments: variants (a strategy, a model version, or a holdout with no offers) assigned by a
hash of the experiment's name and the customer id; one runs at a time; results per variant."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from app.api.inputs import ExperimentIn
from app.api.params import PathId
from app.api.responses import ExperimentOut, ExperimentResults
from app.customers.experiments import results
from app.serving.loaded import Serving
from app.store import experiments as store
from app.store import versions
from app.web.deps import AdminScope, SessionDep, SettingsDep
from app.web.errors import ApiError

router = APIRouter(prefix="/v1/experiments", tags=["reach"], dependencies=[AdminScope])


def _serving_knows(request: Request) -> None:
    serving: Serving = request.app.state.serving
    serving.refresh_experiment()  # this process at once; the others on their next poll


@router.put("/{name}", response_model=None, responses={200: {"model": ExperimentOut}})
def put_experiment(name: PathId, body: ExperimentIn, request: Request, session: SessionDep) -> dict[str, Any]:
    """Store the experiment and run it (any other stops)."""
    for i, v in enumerate(body.variants):
        if v.model_version is not None:
            row = versions.get(session, version=v.model_version)
            if row is None or row.status != "ready":
                raise ApiError(
                    422,
                    "invalid_request",
                    f"variants[{i}].model_version: no ready version {v.model_version!r}",
                )
    variants = [v.model_dump(exclude_none=True) for v in body.variants]
    # The write gets a transaction of its own: on SQLite one that has read cannot take the write lock
    # once another connection wrote since (the offers log, a training's heartbeat); it fails at once.
    session.commit()
    store.put(session, name, variants)
    session.commit()
    _serving_knows(request)
    return {"name": name, "active": True, "variants": variants}


@router.get("/{name}", response_model=None, responses={200: {"model": ExperimentOut}})
def get_experiment(name: PathId, session: SessionDep) -> dict[str, Any]:
    row = store.get(session, name)
    if row is None:
        raise ApiError(404, "not_found", f"name: no experiment {name!r}")
    return {"name": row.name, "active": row.active, "variants": row.variants}


@router.post("/{name}/stop", response_model=None, responses={200: {"model": ExperimentOut}})
def stop_experiment(name: PathId, request: Request, session: SessionDep) -> dict[str, Any]:
    if not store.stop(session, name):
        raise ApiError(404, "not_found", f"name: no experiment {name!r}")
    session.commit()
    _serving_knows(request)
    return get_experiment(name, session)


@router.get("/{name}/results", response_model=None, responses={200: {"model": ExperimentResults}})
def get_results(name: PathId, request: Request, session: SessionDep, settings: SettingsDep) -> dict[str, Any]:
    found = results(session, request.app.state.derived.purchases, name, window_days=settings.attribution_days)
    if found is None:
        raise ApiError(404, "not_found", f"name: no experiment {name!r}")
    return found
