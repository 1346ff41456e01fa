"""memberships: who is in each channel, and since when

Revision ID: 0006
Revises: 0005

``memberships`` holds periods of an identity's membership of a channel (joined_at, left_at, and
where it was learnt: list, event, seen); at most one open period per channel and identity.
Channels get ``members_partial`` (the platform cannot list members, e.g. Telegram) and
``members_synced_at``. A new table and two columns: existing data is kept.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import content.models

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("channels") as batch:
        batch.add_column(sa.Column("members_partial", sa.Boolean(), server_default=sa.text("false"), nullable=False))
        batch.add_column(sa.Column("members_synced_at", content.models.UTCDateTime(), nullable=True))
    op.create_table(
        "memberships",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("identity_id", sa.Integer(), nullable=False),
        sa.Column("joined_at", content.models.UTCDateTime(), nullable=False),
        sa.Column("left_at", content.models.UTCDateTime(), nullable=True),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"], ["channels.id"], name=op.f("fk_memberships_channel_id_channels"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["identity_id"], ["identities.id"], name=op.f("fk_memberships_identity_id_identities"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_memberships")),
    )
    op.create_index("ix_memberships_channel_period", "memberships", ["channel_id", "joined_at", "left_at"])
    op.create_index(op.f("ix_memberships_identity_id"), "memberships", ["identity_id"])
    op.create_index(
        "uq_memberships_open",
        "memberships",
        ["channel_id", "identity_id"],
        unique=True,
        sqlite_where=sa.text("left_at IS NULL"),
        postgresql_where=sa.text("left_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_memberships_open", table_name="memberships")
    op.drop_index(op.f("ix_memberships_identity_id"), table_name="memberships")
    op.drop_index("ix_memberships_channel_period", table_name="memberships")
    op.drop_table("memberships")
    with op.batch_alter_table("channels") as batch:
        batch.drop_column("members_synced_at")
        batch.drop_column("members_partial")
