"""An ``nbo serve`` process the harness starts, kills (SIGKILL) and starts again on the same port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bench.common import free_port

ROOT = Path(__file__).resolve().parents[2]
START_SECONDS = 300


class Server:
    def __init__(self, database_url: str, folder: Path, **env: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "NBO_DATABASE_URL": database_url,
            "NBO_MODELS_DIR": str(folder / "models"),
            "NBO_SAMPLE_DATA": "",
            "NBO_TRAIN_ON_START": "false",
            "NBO_RETRAIN_EVERY_HOURS": "0",
            "NBO_PORT": str(self.port),
            "NBO_LOG_LEVEL": "error",
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.kills = 0
        self.log = open(folder / f"serve-{self.port}.log", "ab")  # noqa: SIM115 (open while it runs)

    def start(self) -> float:
        """Starts the server; the seconds until /healthz answered."""
        started = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve"],
            env=self.env,
            cwd=ROOT,
            stdout=self.log,
            stderr=self.log,
        )
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"nbo serve exited with {self.process.returncode} before it answered")
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return time.monotonic() - started
            except httpx.HTTPError:
                pass
            if time.monotonic() - started > START_SECONDS:
                raise RuntimeError(f"nbo serve did not answer within {START_SECONDS} s")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no clean-up, no flush, as a crash or an OOM kill."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.kills += 1

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()
