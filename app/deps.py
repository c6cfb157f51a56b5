"""Annotated dependencies: what a route needs, by name."""

from __future__ import annotations

import hmac
import math
from collections.abc import Awaitable, Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.errors import ApiError
from app.limits import RateLimiter


# Dependencies that do no I/O are ``async``: FastAPI runs a sync one in the threadpool, a thread hop
# per dependency per request.
async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def get_session(request: Request) -> Iterator[Session]:
    factory: sessionmaker[Session] = request.app.state.session_factory
    with factory() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def _scopes_for(settings: Settings, presented: str) -> frozenset[str] | None:
    found: frozenset[str] | None = None
    # Compare against every key, in constant time each, so timing does not reveal which one matched.
    for key, scopes in settings.api_keys.items():
        if hmac.compare_digest(key.encode(), presented.encode()):
            found = scopes
    return found


def require(scope: str) -> Callable[[Request, SettingsDep], Awaitable[None]]:
    async def check(request: Request, settings: SettingsDep) -> None:
        if not settings.api_keys:
            return
        header = request.headers.get("authorization", "")
        kind, _, token = header.partition(" ")
        if kind.lower() != "bearer" or not token:
            raise ApiError(
                401,
                "unauthorized",
                "authorization: missing bearer API key",
            )
        scopes = _scopes_for(settings, token.strip())
        if scopes is None:
            raise ApiError(401, "unauthorized", "authorization: unknown API key")
        if scope not in scopes:
            raise ApiError(403, "forbidden", f"authorization: this key lacks the '{scope}' scope")
        limiter: RateLimiter = request.app.state.rate_limiter
        if limiter.enabled and (wait := limiter.take(token.strip())) > 0:
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
