"""Helpers shared by the benchmarks: throwaway databases, a server on loopback, result files."""

from __future__ import annotations

import json
import os
import platform
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session
from threadpoolctl import threadpool_limits

from app.db import make_engine, throwaway_database
from app.ingest.import_file import run_import
from app.ingest.importer import ONLINE_RETAIL
from app.migrate import upgrade
from app.ml.config import TrainConfig
from app.ml.dataset import Dataset, from_day
from app.ml.lines import Lines
from app.ml.rfm import average_ranks
from app.store.purchase_cache import PurchaseCache

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
FULL_DATA = ROOT.parent / "shared" / "data" / "online-retail" / "online_retail.csv.gz"
SAMPLE = ROOT / "data" / "online_retail_sample.csv.gz"
PG_SERVER = os.environ.get("NBO_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def auc(score: np.ndarray, label: np.ndarray) -> float:
    """The area under the ROC curve of ``score`` for the boolean ``label`` (ties count half)."""
    ranks = average_ranks(score.astype(np.float64))
    pos, neg = int(label.sum()), int((~label).sum())
    return float((ranks[label].sum() - pos * (pos + 1) / 2) / (pos * neg))


# Another purchases file (the importer's Online Retail format) for a trial run; its results go to
# var/bench/, never over the committed ones, which are the full file's.
OTHER_DATA = os.environ.get("NBO_BENCH_DATA", "")
PACKAGES = ("implicit", "numpy", "scipy", "fastapi", "starlette", "uvicorn", "sqlalchemy", "psycopg")


def data_file() -> Path:
    """The full Online Retail file, or NBO_BENCH_DATA; stops with a clear message when neither is there."""
    path = Path(OTHER_DATA) if OTHER_DATA else FULL_DATA
    if not path.exists():
        raise SystemExit(
            f"the benchmarks need {path} (bench/results/ holds the full Online Retail file's figures); "
            f"for a trial on another file, set NBO_BENCH_DATA (e.g. {SAMPLE.relative_to(ROOT)})"
        )
    return path


def results_dir() -> Path:
    return ROOT / "var" / "bench" if OTHER_DATA else RESULTS


def require_postgresql() -> None:
    """Stop at once, with what to do, when the PostgreSQL server for the benchmarks does not answer."""
    engine = create_engine(PG_SERVER)
    try:
        with engine.connect():
            pass
    except OperationalError as exc:
        raise SystemExit(
            f"the benchmarks need PostgreSQL at {PG_SERVER} (set NBO_BENCH_PG_URL): {exc.orig}"
        ) from None
    finally:
        engine.dispose()


def provenance() -> dict[str, Any]:
    """What a result was measured on: the commit (and whether the tree had changes, results written
    by the benchmarks themselves aside), the packages."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    return {
        "commit": git("rev-parse", "--short", "HEAD")
        + ("+changes" if git("status", "--porcelain", "--", ".", ":!bench/results") else ""),
        "python": platform.python_version(),
        "packages": {name: metadata.version(name) for name in PACKAGES},
    }


@contextmanager
def database(kind: str, workdir: Path) -> Iterator[str]:
    """A fresh, migrated database of the given kind, dropped afterwards."""
    if kind == "sqlite":
        path = workdir / f"bench-{uuid.uuid4().hex[:8]}.db"
        url = f"sqlite:///{path}"
        upgrade(url)
        try:
            yield url
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    require_postgresql()
    with throwaway_database(PG_SERVER, "nbo_bench") as url:
        upgrade(url)
        yield url


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def implicit_alone(conf: Any, config: TrainConfig) -> None:
    """``implicit``'s ALS alone on a confidence matrix, with a version's settings and one BLAS thread
    (as the trainer runs it): the baseline of the training figures."""
    from implicit.cpu.als import AlternatingLeastSquares

    with threadpool_limits(1, "blas"):
        als = AlternatingLeastSquares(
            factors=config.factors,
            regularization=config.regularization,
            iterations=config.iterations,
            random_state=config.random_state,
        )
        als.fit(conf, show_progress=False)


def timed(cmd: list[str], env: dict[str, str]) -> dict[str, float]:
    """A command's wall seconds and peak RSS (MB), failing loudly."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env={**os.environ, **env}, cwd=ROOT, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if status != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({status})")
    return {"seconds": wall, "peak_rss_mb": usage.ru_maxrss / 1024}


@contextmanager
def server(env: dict[str, str], workers: int = 1) -> Iterator[str]:
    """``nbo serve`` in a subprocess on loopback; yields its base URL."""
    with serving(env, workers) as (base, _):
        yield base


@contextmanager
def serving(env: dict[str, str], workers: int = 1) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``nbo serve`` in a subprocess on loopback; yields its base URL and the process."""
    port = free_port()
    full_env = {
        **os.environ,
        **env,
        "NBO_PORT": str(port),
        "NBO_WORKERS": str(workers),
        "NBO_LOG_LEVEL": "warning",
    }
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "serve"], env=full_env, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                raise RuntimeError("the server exited during start-up")
            time.sleep(0.2)
        else:
            raise RuntimeError("the server did not become ready")
        yield base, proc
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def write_results(name: str, results: dict[str, Any], markdown: str) -> None:
    """The figures as JSON and Markdown, each with the commit and package versions they came from."""
    made = provenance()
    folder = results_dir()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(
        json.dumps({**results, "provenance": made}, indent=2, default=str) + "\n"
    )
    versions = ", ".join(f"{k} {v}" for k, v in made["packages"].items())
    markdown = (
        markdown.rstrip("\n")
        + f"\n\nMeasured at commit {made['commit']}, Python {made['python']}, {versions}.\n"
    )
    (folder / f"{name}.md").write_text(markdown)
    sys.stdout.write(markdown)


@contextmanager
def full_store(workdir: Path) -> Iterator[tuple[str, Dataset]]:
    """A fresh SQLite store holding the data file, and its purchases as arrays."""
    with database("sqlite", workdir) as url:
        run_import(data_file(), ONLINE_RETAIL, database_url=url)
        engine = make_engine(url)
        with Session(engine) as session:
            data = PurchaseCache().dataset(session, before=datetime.max)
        engine.dispose()
        yield url, data


def protocol_cutoff(data: Dataset) -> tuple[float, str]:
    """The latest purchase − 30 days, to the second: as days, and as an RFC 3339 time."""
    day = round((data.last_day - 30.0) * 86400) / 86400
    return day, from_day(day).isoformat() + "Z"


def days_after(data: Dataset, day: float, days: float = 30.0) -> Lines:
    """The lines of the ``days`` after ``day``, both ends included (the protocol's cutoff is the latest
    purchase − 30 days, so that purchase lies on the far end), aged back from that end."""
    return data.lines(float(np.nextafter(day + days, np.inf)), day).aged(-days)


def server_env(url: str, workdir: Path) -> dict[str, str]:
    """``nbo serve`` on a store, training nothing by itself."""
    return {
        "NBO_DATABASE_URL": url,
        "NBO_MODELS_DIR": str(workdir / "models"),
        "NBO_SAMPLE_DATA": "",
        "NBO_TRAIN_ON_START": "false",
    }


def train_and_serve(base: str, as_of: str) -> str:
    """POST /v1/models with ``as_of``; wait until the version is ready, active and served."""
    version = str(httpx.post(f"{base}/v1/models", json={"as_of": as_of}).json()["version"])
    while (body := httpx.get(f"{base}/v1/models/{version}").json())["status"] == "training":
        time.sleep(0.5)
    if body["status"] != "ready" or not body["active"]:
        raise RuntimeError(f"the version did not become active: {body}")
    while httpx.get(f"{base}/readyz").json().get("model") != version:
        time.sleep(0.2)
    return version
