"""Headless Chromium for the dashboard's end-to-end tests: Debian's /usr/bin/chromium driven by
Playwright (never a browser Playwright downloads), and a served demo behind API keys."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server import ROOT, nbo_serve

CHROMIUM = os.environ.get("NBO_CHROMIUM", "/usr/bin/chromium")
KEYS = {"reader": ["read"], "boss": ["read", "write", "admin"]}
ADMIN = {"Authorization": "Bearer boss"}
# As the machine's closed network wants it: no background connections, no sandbox as root.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    """The browser, or a skip (locally) or a failure (in CI, NBO_REQUIRE_BROWSER=1) without it."""
    found = shutil.which(CHROMIUM)
    if found is None:
        message = f"{CHROMIUM} is missing: apt-get install chromium chromium-driver"
        if os.environ.get("NBO_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    return found


@dataclass
class Watch:
    """What a page did besides its own work: console errors, uncaught errors, requests elsewhere."""

    base: str
    errors: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)

    def attach(self, page: Any) -> None:
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("request", self._request)

    def _request(self, request: Any) -> None:
        if not (request.url.startswith(self.base + "/") or request.url.startswith("data:")):
            self.external.append(request.url)


@contextmanager
def served_demo(folder: Path) -> Iterator[str]:
    """``nbo demo`` on an SQLite store in ``folder``: the shipped sample imported and trained on,
    with a read key and an admin key. Yields the base URL once a version is active."""
    with nbo_serve(
        f"sqlite:///{folder / 'nbo.db'}",
        folder,
        command="demo",
        NBO_SAMPLE_DATA=str(ROOT / "data" / "online_retail_sample.csv.gz"),
        NBO_TRAIN_ON_START="true",
        NBO_API_KEYS=json.dumps(KEYS),
    ) as served:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            models = httpx.get(f"{served.base}/v1/models", headers=ADMIN).json()["models"]
            if any(m["active"] for m in models):
                break
            time.sleep(0.5)
        else:
            raise AssertionError("the demo trained no version in 300 s")
        yield served.base
