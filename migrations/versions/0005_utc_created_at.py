"""customers' and products' created_at in UTC on PostgreSQL

Serving compares a customer's created_at with when a model version began (naive UTC): a customer
erased and seen again after that must not be given the trained sums of the one erased. SQLite's
CURRENT_TIMESTAMP is already UTC; PostgreSQL's would follow the server's time zone.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("customers", "products")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.alter_column(table, "created_at", server_default=sa.text("timezone('utc', now())"))


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.alter_column(table, "created_at", server_default=sa.text("CURRENT_TIMESTAMP"))
