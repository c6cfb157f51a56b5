"""nbo serve hands uvicorn the settings a model-loading app needs under its supervisor."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import uvicorn
from typer.testing import CliRunner

from app import cli


def test_serve_gives_workers_time_to_start_and_answer(
    environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """uvicorn's own 5 s ping timeout replaced healthy workers that were still loading on a busy
    machine; the supervisor waits NBO_WORKER_HEALTHCHECK_SECONDS instead."""
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append({"app": app, **kw}))
    monkeypatch.setenv("NBO_WORKER_HEALTHCHECK_SECONDS", "45")
    monkeypatch.setenv("NBO_WORKERS", "2")
    result = CliRunner().invoke(cli.cli, ["serve"])
    assert result.exit_code == 0, result.output
    [call] = calls
    assert call["app"] == "app.main:worker_app"
    assert call["factory"] is True
    assert call["workers"] == 2
    assert call["timeout_worker_healthcheck"] == 45
