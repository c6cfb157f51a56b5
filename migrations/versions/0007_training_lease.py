"""the training claim is a lease: its job renews heartbeat_at while it runs

A job killed mid-way left its claim for NBO_TRAINING_TIMEOUT_SECONDS; now a claim not renewed within
NBO_TRAINING_LEASE_SECONDS is taken over and the dead job marked failed.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("model_versions", sa.Column("heartbeat_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.drop_column("heartbeat_at")
