"""The contact policy: caps per channel and in all, the cool-down after a dismissal, fatigue."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from app.api.inputs import PolicyIn
from app.serving.loaded import Serving
from app.serving.policy import Policy, load
from app.store.contacts import put_policy
from app.web.deps import AdminScope, SessionDep

router = APIRouter(prefix="/v1/policy", tags=["reach"], dependencies=[AdminScope])


@router.put("", response_model=PolicyIn)
def set_policy(body: PolicyIn, request: Request, session: SessionDep) -> dict[str, Any]:
    policy = Policy.from_body(body.model_dump())
    put_policy(session, policy.to_body())
    session.commit()
    serving: Serving = request.app.state.serving
    serving.refresh_policy()  # this process at once; the others on their next poll
    return policy.to_body()


@router.get("", response_model=PolicyIn)
def get_policy(session: SessionDep) -> dict[str, Any]:
    """The stored policy (every rule off until one is stored)."""
    return load(session).to_body()
