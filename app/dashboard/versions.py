"""The Models view: every version with its evaluation against the baselines and the gate's
verdict, the one that is active, and which one this process serves."""

from __future__ import annotations

from typing import Any

from app.api.models import describe
from app.dashboard.overview import quality
from app.db import Session
from app.store import versions


def models(session: Session, serving: str | None) -> dict[str, Any]:
    rows = []
    for row in versions.newest_first(session):
        described = describe(row)
        gate = described["metrics"].get("gate") or {}
        rows.append({**described, "quality": quality(described["metrics"]), "gate": gate})
    return {"models": rows, "serving": serving}
