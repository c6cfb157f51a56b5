"""create_app(): routers, error handlers, lifespan."""

from __future__ import annotations

import gc
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from threadpoolctl import threadpool_limits

from app import errors
from app.api import catalog, docs, erasure, events, health, models, offers, openapi, profiles
from app.auth import KeyCheckMiddleware
from app.config import Settings, get_settings
from app.db import make_engine, make_session_factory
from app.limits import BodyLimitMiddleware, RateLimiter
from app.logs import RequestContext
from app.recommendation_log import RecommendationLog
from app.serving import Serving
from app.snapshot import SnapshotReader
from app.training import Trainer, abandon_stale_trainings

log = logging.getLogger("nbo")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    # Requests are short and CPU-bound in threads: hand the GIL over sooner than the default 5 ms,
    # so a finished response is not held back behind another request's computation.
    sys.setswitchinterval(settings.gil_switch_interval)
    # Each request makes a few small BLAS calls; BLAS's own worker threads would spin between them and
    # take the other cores from the requests (measured: 1.5 cores busy for one core's work).
    threadpool_limits(1, "blas")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not settings.api_keys:
            log.warning("NBO_API_KEYS is empty: the service runs open, without authentication")
        abandon_stale_trainings(factory, settings.training_timeout_seconds, settings.models_dir)
        app.state.serving.start()
        app.state.recommendation_log.start()
        # What is loaded by now (modules, the model) lives as long as the worker: left to the cyclic
        # garbage collector, each full pass walked its ~150,000 objects and held every request for
        # 30–70 ms (1–2 % of offers under load). Frozen, it is skipped; refcounting still frees it.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            app.state.trainer.shutdown()
            app.state.serving.stop()
            app.state.recommendation_log.stop()
            await app.state.snapshot_reader.aclose()
            app.state.engine.dispose()
            gc.unfreeze()  # an app started again in this process (tests) freezes afresh

    app = FastAPI(title="nbo", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None)
    engine = make_engine(settings.database_url)
    app.state.settings = settings
    app.state.engine = engine
    factory = make_session_factory(engine)
    app.state.session_factory = factory
    app.state.serving = Serving(factory, settings.models_dir, settings.model_poll_seconds)
    app.state.recommendation_log = RecommendationLog(engine)
    app.state.snapshot_reader = SnapshotReader(engine)
    app.state.rate_limiter = RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst)
    app.state.trainer = Trainer(
        factory, settings.models_dir, settings.train, app.state.serving, settings.training_lease_seconds
    )

    errors.install(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(KeyCheckMiddleware, api_keys=settings.api_keys)  # before the body is read
    app.add_middleware(RequestContext)  # outermost: request id, access line, metrics
    for module in (health, events, catalog, offers, profiles, models, erasure):
        app.include_router(module.router)
    docs.install(app)
    openapi.install(app)
    return app
