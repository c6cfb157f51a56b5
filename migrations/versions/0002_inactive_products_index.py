"""partial index on inactive products

Every offers request reads the inactive products; without an index PostgreSQL scans the catalogue.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INACTIVE = sa.text("active = false")


def upgrade() -> None:
    op.create_index(
        "ix_products_inactive",
        "products",
        ["product_id"],
        unique=False,
        sqlite_where=sa.text("active = 0"),
        postgresql_where=INACTIVE,
    )


def downgrade() -> None:
    op.drop_index("ix_products_inactive", table_name="products")
