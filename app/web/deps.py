"""Annotated dependencies: what a route needs, by name."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request

from app.config import Settings
from app.db import Session, SessionFactory
from app.web.auth import bearer_token, key_problem, scopes_for
from app.web.errors import ApiError
from app.web.limits import RateLimiter


# Dependencies that do no I/O are ``async``: FastAPI runs a sync one in the threadpool, a thread hop
# per dependency per request.
async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def get_session(request: Request) -> Iterator[Session]:
    factory: SessionFactory = request.app.state.session_factory
    with factory() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def require(scope: str) -> Callable[[Request, SettingsDep], Awaitable[None]]:
    async def check(request: Request, settings: SettingsDep) -> None:
        if not settings.api_keys:
            return
        header = request.headers.get("authorization", "")
        problem = key_problem(settings.api_keys, header)
        token = bearer_token(header)
        scopes = scopes_for(settings.api_keys, token) if token is not None else None
        if problem is not None or token is None or scopes is None:
            raise ApiError(401, "unauthorized", problem or "authorization: missing bearer API key")
        if scope not in scopes:
            raise ApiError(403, "forbidden", f"authorization: this key lacks the '{scope}' scope")
        limiter: RateLimiter = request.app.state.rate_limiter
        if limiter.enabled and (wait := limiter.take(token)) > 0:
            raise ApiError(
                429,
                "rate_limited",
                f"authorization: this key is over {limiter.rate:g} requests a second; retry later",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )

    return check


ReadScope = Depends(require("read"))
WriteScope = Depends(require("write"))
AdminScope = Depends(require("admin"))
