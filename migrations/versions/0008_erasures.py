"""erasure reaches what ran at the same time and every retained version

``erasures`` holds a hash of each id erased in the last day, which writers check under a lock that
the erasure takes; ``model_versions.holds_erased`` marks an active version trained on an erased
customer, retired once it is replaced.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "erasures",
        sa.Column("customer_hash", sa.String(64), primary_key=True),
        sa.Column("erased_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_erasures_erased_at", "erasures", ["erased_at"])
    op.add_column(
        "model_versions", sa.Column("holds_erased", sa.Boolean(), nullable=False, server_default="0")
    )


def downgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        batch.drop_column("holds_erased")
    op.drop_index("ix_erasures_erased_at", table_name="erasures")
    op.drop_table("erasures")
