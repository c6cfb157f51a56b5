"""create_app(): the app's state (store, serving, training, derived state), routers, middleware and
error handlers, and the lifespan that starts and stops them; worker_app(): the same for a worker
process of ``nbo serve``, which also tunes the process for serving."""

from __future__ import annotations

import gc
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from threadpoolctl import threadpool_limits

from app.api import (
    campaigns,
    catalog,
    catalog_read,
    docs,
    erasure,
    events,
    experiments,
    health,
    measure,
    models,
    offers,
    openapi,
    policy,
    profiles,
)
from app.config import Settings, get_settings
from app.customers.campaign_jobs import Campaigns
from app.dashboard import pages as dashboard
from app.db import make_engine, make_session_factory
from app.derived import Derived
from app.logs import RequestContext
from app.serving.loaded import Serving
from app.store.recommendations import RecommendationLog
from app.training.claim import abandon_stale_trainings
from app.training.jobs import Trainer
from app.training.schedule import Schedule
from app.web import errors
from app.web.auth import KeyCheckMiddleware
from app.web.limits import BodyLimitMiddleware, RateLimiter

log = logging.getLogger("nbo")


def create_app(settings: Settings | None = None, *, owns_process: bool = False) -> FastAPI:
    """The app; with ``owns_process`` (a worker of ``nbo serve``) its lifespan also freezes what is
    loaded at start out of the garbage collector's passes."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if not settings.api_keys:
            log.warning("NBO_API_KEYS is empty: the service runs open, without authentication")
        abandon_stale_trainings(factory, settings.training_timeout_seconds, settings.models_dir)
        app.state.serving.start()
        app.state.campaigns.abandon_stale()
        app.state.recommendation_log.start()
        app.state.schedule.start()
        if owns_process:
            # What is loaded by now (modules, the model) lives as long as the worker: left to the
            # cyclic garbage collector, each full pass walked its ~150,000 objects and held every
            # request for 30–70 ms (1–2 % of offers under load). Frozen, it is skipped; refcounting
            # still frees it.
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            app.state.campaigns.shutdown()
            app.state.schedule.stop()
            app.state.trainer.shutdown()
            app.state.serving.stop()
            app.state.recommendation_log.stop()
            await app.state.derived.aclose()
            app.state.engine.dispose()
            if owns_process:
                gc.unfreeze()

    app = FastAPI(title="nbo", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None)
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    serving = Serving(factory, settings.models_dir, settings.model_poll_seconds)
    derived = Derived.for_engine(engine)
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = factory
    app.state.serving = serving
    app.state.derived = derived
    app.state.recommendation_log = RecommendationLog(engine)
    app.state.campaigns = Campaigns(factory, engine, serving, derived.bases)
    app.state.rate_limiter = RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst)
    app.state.trainer = Trainer(
        factory,
        settings.models_dir,
        settings.train,
        derived.purchases,
        serve_first=serving.serving_first,
        lease_seconds=settings.training_lease_seconds,
    )
    app.state.schedule = Schedule(
        factory, app.state.trainer, settings.retrain_every_hours if settings.retrain_in_serve else 0.0
    )

    errors.install(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(KeyCheckMiddleware, api_keys=settings.api_keys)  # before the body is read
    app.add_middleware(RequestContext)  # outermost: request id, access line, metrics
    for module in (
        health,
        events,
        catalog,
        offers,
        profiles,
        models,
        erasure,
        policy,
        campaigns,
        measure,
        experiments,
        catalog_read,  # after offers: its /v1/products/{id} would take /v1/products/{id}/similar
    ):
        app.include_router(module.router)
    docs.install(app)
    openapi.install(app)
    dashboard.install(app)
    return app


def worker_app() -> FastAPI:
    """The app of a ``nbo serve`` worker process (uvicorn's factory), in a process tuned for it."""
    settings = get_settings()
    # Requests are short and CPU-bound in threads: hand the GIL over sooner than the default 5 ms,
    # so a finished response is not held back behind another request's computation.
    sys.setswitchinterval(settings.gil_switch_interval)
    # Each request makes a few small BLAS calls; BLAS's own worker threads would spin between them and
    # take the other cores from the requests (measured: 1.5 cores busy for one core's work).
    threadpool_limits(1, "blas")
    return create_app(settings, owns_process=True)
