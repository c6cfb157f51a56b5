"""Activating a version (also the rollback): served by this process before the store records it
active, so that no answer says a version is active that this process does not serve yet; the other
processes follow on their next poll."""

from __future__ import annotations

from app.db import Session
from app.ml import artifact
from app.serving.loaded import Serving
from app.store import versions
from app.store.tables import ModelVersion


class ActivationError(Exception):
    """Why a version cannot be active: ``code`` is "not_found", "not_ready" or "artifact_invalid";
    the message names the field."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def activate(session: Session, serving: Serving, version: str) -> ModelVersion:
    """Make ``version`` the active one; returns its row. Raises ActivationError when it is unknown,
    not ready, or its artifact does not verify."""
    row = versions.get(session, version=version)
    if row is None:
        raise ActivationError("not_found", f"version: no model version {version!r}")
    if row.status != "ready":
        raise ActivationError(
            "not_ready", f"version: {version} is {row.status}, only a ready version can be active"
        )
    # The write gets a transaction of its own: on SQLite a transaction that has read cannot take the
    # write lock once another connection has written since (the recommendation writer does, often);
    # it fails at once instead of waiting.
    session.commit()
    try:
        with serving.serving_first(version) as serve:
            retired = versions.activate(session, version=version)
            serve()
            session.commit()
    except artifact.ArtifactError as exc:
        raise ActivationError("artifact_invalid", f"version: {exc}") from exc
    except versions.NotReadyError as exc:
        session.rollback()
        raise ActivationError("not_ready", f"version: {version} is no longer ready") from exc
    artifact.remove(serving.models_dir, retired)
    session.refresh(row)
    return row
