"""one training job at a time

A version's job holds ``running`` while it trains; a partial unique index lets one row hold it, so
jobs started by an API process, the trainer service or another replica wait their turn instead of
training at once.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HELD = sa.text("running IS NOT NULL")


def upgrade() -> None:
    op.add_column("model_versions", sa.Column("running", sa.Boolean(), nullable=True))
    op.create_index(
        "ux_model_versions_one_running",
        "model_versions",
        ["running"],
        unique=True,
        sqlite_where=HELD,
        postgresql_where=HELD,
    )


def downgrade() -> None:
    op.drop_index("ux_model_versions_one_running", table_name="model_versions")
    op.drop_column("model_versions", "running")
