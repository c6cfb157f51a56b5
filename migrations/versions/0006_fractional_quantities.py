"""purchases.quantity holds fractions: goods sold by weight (0.35 kg of cheese)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEEP = {"sqlite_autoincrement": True}  # SQLite rebuilds the table: ids still never reused (0003)


def upgrade() -> None:
    with op.batch_alter_table("purchases", table_kwargs=KEEP) as batch:
        batch.alter_column("quantity", existing_type=sa.Integer(), type_=sa.Float(), existing_nullable=False)


def downgrade() -> None:
    # Fractions cannot go back into an integer column: rounded away from zero keeps a line a line.
    with op.batch_alter_table("purchases", table_kwargs=KEEP) as batch:
        batch.alter_column(
            "quantity",
            existing_type=sa.Float(),
            type_=sa.Integer(),
            existing_nullable=False,
            postgresql_using="CASE WHEN quantity > 0 THEN ceil(quantity) ELSE floor(quantity) END",
        )
