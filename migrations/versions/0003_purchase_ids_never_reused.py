"""purchase ids are never reused on SQLite

SQLite hands out the highest rowid + 1, so deleting the latest purchases frees their ids for the next
ones. The columnar copy that training reads (app/store/purchase_cache.py) relies on ids never coming back, as
PostgreSQL's sequences guarantee: AUTOINCREMENT makes SQLite do the same (the table is rebuilt).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table("purchases", recreate="always", table_kwargs={"sqlite_autoincrement": True}):
        pass


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table("purchases", recreate="always", table_kwargs={"sqlite_autoincrement": False}):
        pass
