"""reach: the contact policy, the contact ledger, campaigns, experiments, and where each offer went

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OFFER_COLUMNS = (("channel", 16), ("campaign_id", 64), ("experiment", 128), ("variant", 128))


def upgrade() -> None:
    for name, length in OFFER_COLUMNS:
        op.add_column("recommendations", sa.Column(name, sa.String(length), nullable=True))
    op.create_index("ix_recommendations_campaign_id", "recommendations", ["campaign_id"])
    op.create_table(
        "policies",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "contacts",
        sa.Column("id", big_id, primary_key=True, autoincrement=True),
        sa.Column(
            "customer_id",
            sa.String(256),
            sa.ForeignKey(
                "customers.customer_id", ondelete="CASCADE", name="fk_contacts_customer_id_customers"
            ),
            nullable=False,
        ),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("recommendation_id", sa.String(64), nullable=False),
        sa.Column("campaign_id", sa.String(64), nullable=True),
        sa.Column("contacted_at", sa.DateTime(), nullable=False),
        sqlite_autoincrement=True,
    )
    op.create_index("ux_contacts_offer_channel", "contacts", ["recommendation_id", "channel"], unique=True)
    op.create_index("ix_contacts_customer_time", "contacts", ["customer_id", "contacted_at"])
    op.create_index("ix_contacts_campaign_id", "contacts", ["campaign_id"])
    op.create_table(
        "campaigns",
        sa.Column("campaign_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.JSON(), nullable=False),
        sa.Column("progress", sa.JSON(), nullable=False),
        sa.Column("preview", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("error", sa.String(2000), nullable=True),
    )
    op.create_table(
        "experiments",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("variants", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False, server_default="1"),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("experiments")
    op.drop_table("campaigns")
    op.drop_index("ix_contacts_campaign_id", table_name="contacts")
    op.drop_index("ix_contacts_customer_time", table_name="contacts")
    op.drop_index("ux_contacts_offer_channel", table_name="contacts")
    op.drop_table("contacts")
    op.drop_table("policies")
    op.drop_index("ix_recommendations_campaign_id", table_name="recommendations")
    with op.batch_alter_table("recommendations") as batch:
        for name, _ in reversed(OFFER_COLUMNS):
            batch.drop_column(name)
