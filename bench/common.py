"""Helpers shared by the benchmarks: throwaway databases, a server on loopback, result files."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from app.db import throwaway_database
from app.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
FULL_DATA = ROOT.parent / "shared" / "data" / "online-retail" / "online_retail.csv.gz"
SAMPLE = ROOT / "data" / "online_retail_sample.csv.gz"
PG_SERVER = os.environ.get("NBO_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def data_file() -> Path:
    return FULL_DATA if FULL_DATA.exists() else SAMPLE


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
    with throwaway_database(PG_SERVER, "nbo_bench") as url:
        upgrade(url)
        yield url


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(env: dict[str, str], workers: int = 1) -> Iterator[str]:
    """``nbo serve`` in a subprocess on loopback; yields its base URL."""
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
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def write_results(name: str, results: dict[str, Any], markdown: str) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (RESULTS / f"{name}.md").write_text(markdown)
    sys.stdout.write(markdown)
