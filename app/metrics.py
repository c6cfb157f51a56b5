"""Prometheus metrics, served at /metrics.

Under several worker processes ``nbo serve`` points PROMETHEUS_MULTIPROC_DIR at a fresh folder
before the workers start: each writes its values there and /metrics, whichever worker answers,
adds them up.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# prometheus-client writes some values as soon as they are defined: their folder must exist first.
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.types import Scope

REQUESTS = Counter("nbo_http_requests_total", "HTTP requests answered", ["method", "route", "status"])
LATENCY = Histogram(
    "nbo_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
IN_PROGRESS = Gauge(
    "nbo_http_requests_in_progress",
    "HTTP requests begun and not yet answered",
    multiprocess_mode="livesum",
)
INGESTED = Counter("nbo_ingest_events_total", "Events received, by outcome", ["kind", "outcome"])
UNRECORDED = Counter(
    "nbo_recommendations_unrecorded_total",
    "Answers served but not recorded for attribution: the write queue was full",
)
TRAININGS = Counter("nbo_trainings_total", "Training jobs finished, by outcome", ["outcome"])
TRAINING_SECONDS = Histogram(
    "nbo_training_duration_seconds",
    "Time a training job took",
    buckets=(1, 2, 5, 10, 30, 60, 120, 300, 600, 1800),
)
ACTIVE_MODEL = Gauge(
    "nbo_model_active_info",
    "The model version this process serves (1)",
    ["version"],
    multiprocess_mode="livemax",
)
ACTIVE_MODEL_AGE = Gauge(
    "nbo_model_active_age_seconds",
    "Seconds since the served version finished training",
    multiprocess_mode="livemax",
)


def exposition() -> tuple[bytes, str]:
    """The metrics of every process of this service, in the Prometheus text format."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def serving(version: str | None, previous: str | None, finished_at: float | None) -> None:
    """Record which version this process serves now, and how old it is."""
    if previous is not None and previous != version:
        ACTIVE_MODEL.labels(previous).set(0)
    if version is not None:
        ACTIVE_MODEL.labels(version).set(1)
    ACTIVE_MODEL_AGE.set(time.time() - finished_at if finished_at is not None else 0.0)


def observe_request(scope: Scope, status: int, seconds: float) -> None:
    """Count and time one HTTP request by method, route template and status."""
    # The route's template, not the path: one series per endpoint, not one per customer.
    template = getattr(scope.get("route"), "path", "unmatched").replace(":id}", "}")
    method = scope["method"]
    REQUESTS.labels(method, template, str(status)).inc()
    LATENCY.labels(method, template).observe(seconds)


@contextmanager
def metrics_folder(processes: int) -> Iterator[None]:
    """Several workers share their metrics through files in one folder (prometheus-client's
    multiprocess mode): a given PROMETHEUS_MULTIPROC_DIR is emptied of an earlier run's files, else a
    temporary one is made for this run. The workers are new processes and read it at start."""
    if processes <= 1:
        yield
        return
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    folder = Path(given) if given else Path(tempfile.mkdtemp(prefix="nbo-metrics-"))
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    try:
        yield
    finally:
        if not given:
            shutil.rmtree(folder, ignore_errors=True)
