"""Model version rows: the record of training jobs and the active pointer shared by every process."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.clock import utcnow
from app.store.erasure import begin_write
from app.store.tables import ModelVersion


def new_version_id(now: datetime) -> str:
    return now.strftime("v%Y%m%dT%H%M%S%fZ")


def create(session: Session, *, as_of: datetime) -> ModelVersion:
    now = utcnow()
    row = ModelVersion(
        version=new_version_id(now), status="training", active=False, as_of=as_of, created_at=now, metrics={}
    )
    session.add(row)
    session.flush()
    return row


LAPSED = "failed: its job stopped renewing the training claim (the process was killed or hung)"


def take_over_lapsed(session: Session, *, lease_seconds: float, now: datetime | None = None) -> list[str]:
    """Fail the job holding the claim if it has not renewed it within ``lease_seconds`` before
    ``now`` (default: now), which frees the claim; returns the versions so failed. The first
    statement of its transaction (the claim follows it in the same one)."""
    begin_write(session)
    cutoff = (now or utcnow()) - timedelta(seconds=lease_seconds)
    renewed = func.coalesce(ModelVersion.heartbeat_at, ModelVersion.created_at)
    lapsed = list(
        session.scalars(
            select(ModelVersion.version).where(ModelVersion.running.is_not(None), renewed < cutoff)
        )
    )
    if lapsed:
        session.execute(
            update(ModelVersion)
            .where(ModelVersion.version.in_(lapsed), ModelVersion.running.is_not(None), renewed < cutoff)
            .values(status="failed", error=LAPSED, finished_at=utcnow(), running=None)
        )
    return lapsed


def claim(session: Session, *, version: str) -> str:
    """Take the one running-job claim for ``version``: "claimed"; "busy" while another job holds
    it (in any process); "gone" when the version is no longer training (failed meanwhile)."""
    try:
        with session.begin_nested():  # a refusal leaves the caller's transaction usable
            result = session.execute(
                update(ModelVersion)
                .where(ModelVersion.version == version, ModelVersion.status == "training")
                .values(running=True, heartbeat_at=utcnow())
            )
    except IntegrityError:
        return "busy"
    return "claimed" if result.rowcount else "gone"  # type: ignore[attr-defined]


def renew(session: Session, *, version: str) -> bool:
    """Renew ``version``'s claim; False when it no longer holds it (taken over as lapsed)."""
    result = session.execute(
        update(ModelVersion)
        .where(ModelVersion.version == version, ModelVersion.running.is_not(None))
        .values(heartbeat_at=utcnow())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def training(session: Session) -> set[str]:
    return set(session.scalars(select(ModelVersion.version).where(ModelVersion.status == "training")))


def get(session: Session, *, version: str) -> ModelVersion | None:
    return session.get(ModelVersion, version)


def newest_first(session: Session, *, limit: int = 100) -> Sequence[ModelVersion]:
    return session.scalars(select(ModelVersion).order_by(ModelVersion.created_at.desc()).limit(limit)).all()


def active(session: Session) -> ModelVersion | None:
    return session.scalars(select(ModelVersion).where(ModelVersion.active.is_(True))).first()


def activate(session: Session, *, version: str) -> list[str]:
    """Make ``version`` the only active one (in the caller's transaction). The version it replaces
    is retired if it holds an erased customer; returns the versions so retired, whose folders the
    caller removes once this commits. Raises NotReadyError when ``version`` is not ready (any more)."""
    begin_write(session)
    replaced = list(
        session.scalars(
            select(ModelVersion.version).where(
                ModelVersion.active.is_(True),
                ModelVersion.holds_erased.is_(True),
                ModelVersion.version != version,
            )
        )
    )
    session.execute(update(ModelVersion).where(ModelVersion.active.is_(True)).values(active=False))
    result = session.execute(
        update(ModelVersion)
        .where(ModelVersion.version == version, ModelVersion.status == "ready")
        .values(active=True, activated_at=utcnow())
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        raise NotReadyError(version)
    for name in replaced:
        retire(session, version=name, reason=ERASED_REPLACED)
    return replaced


class NotReadyError(Exception):
    """The version is not ready to be active (retired or failed meanwhile)."""


ERASED = "retired: it was trained on a customer erased since, so it can never be active again"
ERASED_REPLACED = ERASED + " (retired when a version without them replaced it)"


def retire(session: Session, *, version: str, reason: str = ERASED) -> str:
    """Retire a ready version trained on an erased customer: "retired" when it is not active (its
    folder is the caller's to remove); "marked" when it is active, where it keeps serving until a
    version without them replaces it (then it is retired by activate); "" when not ready."""
    result = session.execute(
        update(ModelVersion)
        .where(
            ModelVersion.version == version, ModelVersion.status == "ready", ModelVersion.active.is_(False)
        )
        .values(status="retired", error=reason, holds_erased=True)
    )
    if result.rowcount:  # type: ignore[attr-defined]
        return "retired"
    result = session.execute(
        update(ModelVersion)
        .where(ModelVersion.version == version, ModelVersion.status == "ready", ModelVersion.active.is_(True))
        .values(holds_erased=True)
    )
    return "marked" if result.rowcount else ""  # type: ignore[attr-defined]


def ready(session: Session) -> list[str]:
    return list(session.scalars(select(ModelVersion.version).where(ModelVersion.status == "ready")))


def finish(
    session: Session, *, version: str, status: str, metrics: dict[str, Any], error: str | None = None
) -> bool:
    """Record the outcome of ``version``'s job; False when it is no longer training (a shutdown or
    a later start marked it failed meanwhile), and then nothing changes."""
    result = session.execute(
        update(ModelVersion)
        .where(ModelVersion.version == version, ModelVersion.status == "training")
        .values(status=status, metrics=metrics, error=error, finished_at=utcnow(), running=None)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def fail_unfinished(
    session: Session, *, error: str, names: Sequence[str] = (), created_before: datetime | None = None
) -> int:
    """Mark failed the versions still training among ``names``, or created before a moment."""
    chosen: list[ColumnElement[bool]] = []
    if names:
        chosen.append(ModelVersion.version.in_(list(names)))
    if created_before is not None:
        chosen.append(ModelVersion.created_at < created_before)
    if not chosen:
        return 0
    result = session.execute(
        update(ModelVersion)
        .where(ModelVersion.status == "training", or_(*chosen))
        .values(status="failed", error=error, finished_at=utcnow(), running=None)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
