"""create_app(): routers, error handlers, lifespan."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app import errors
from app.api import catalog, events, health
from app.config import Settings, get_settings
from app.db import make_engine, make_session_factory
from app.limits import BodyLimitMiddleware

log = logging.getLogger("nbo")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not settings.api_keys:
            log.warning("NBO_API_KEYS is empty: the service runs open, without authentication")
        yield
        app.state.engine.dispose()

    app = FastAPI(title="nbo", version="0.1.0", lifespan=lifespan)
    engine = make_engine(settings.database_url)
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine)
    app.state.serving = None

    errors.install(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    for module in (health, events, catalog):
        app.include_router(module.router)
    return app
