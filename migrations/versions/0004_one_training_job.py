"""one training job at a time

A partial unique index admits a single version in the ``training`` state, so two trainers (an API
process and the trainer service, or two replicas) never train at once. Versions left training
before this guard, except the newest, are marked failed first.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRAINING = "status = 'training'"


def upgrade() -> None:
    bind = op.get_bind()
    newest = bind.execute(sa.text(f"SELECT max(created_at) FROM model_versions WHERE {TRAINING}")).scalar()
    if newest is not None:
        bind.execute(
            sa.text(
                "UPDATE model_versions SET status = 'failed', error = :error, finished_at = :now "
                f"WHERE {TRAINING} AND created_at < :newest"
            ),
            {
                "error": "abandoned: left training by an earlier nbo",
                "now": datetime.now(UTC).replace(tzinfo=None),
                "newest": newest,
            },
        )
    op.create_index(
        "ux_model_versions_one_training",
        "model_versions",
        ["status"],
        unique=True,
        sqlite_where=sa.text(TRAINING),
        postgresql_where=sa.text(TRAINING),
    )


def downgrade() -> None:
    op.drop_index("ux_model_versions_one_training", table_name="model_versions")
