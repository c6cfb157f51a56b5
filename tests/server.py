"""``nbo serve`` as a real process, for the tests that need real signals, workers or sockets."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    base: str


START_SECONDS = 300


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def nbo_serve(database_url: str, folder: Path, command: str = "serve", **env: str) -> Iterator[Served]:
    """Runs ``nbo serve`` (or ``command``) on a free port with no sample data and no training on
    start unless ``env`` says otherwise; yields once /healthz answers, and stops it (SIGTERM, then
    SIGKILL) on leaving if the test has not."""
    port = free_port()
    environment = {
        **os.environ,
        "NBO_DATABASE_URL": database_url,
        "NBO_MODELS_DIR": str(folder / "models"),
        "NBO_SAMPLE_DATA": "",
        "NBO_TRAIN_ON_START": "false",
        "NBO_PORT": str(port),
        "NBO_LOG_LEVEL": "warning",
        **env,
    }
    process = subprocess.Popen([sys.executable, "-m", "app.cli", command], env=environment, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        # Generous: a start-up (imports, migration, a model load) on a loaded CI machine takes many
        # times what it takes on a quiet one; the deadline only catches a server that never comes up.
        deadline = time.monotonic() + START_SECONDS
        while True:
            assert process.poll() is None, "nbo serve exited before it answered"
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, f"nbo serve did not answer within {START_SECONDS} s"
            time.sleep(0.2)
        yield Served(process, base)
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
