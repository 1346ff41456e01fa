"""guided_drafts: posts being composed step by step

Revision ID: 0012
Revises: 0011

``post`` without arguments asks for the post one step at a time; the dialog is kept here (one row per
platform, person and chat) so that any instance continues it and a restart keeps it. A new table:
existing data is kept.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from content.models import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "guided_drafts",
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("chat_id", sa.String(length=255), nullable=False),
        sa.Column("step", sa.String(length=16), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("prompt_id", sa.String(length=255), nullable=True),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("platform", "user_id", "chat_id", name=op.f("pk_guided_drafts")),
    )


def downgrade() -> None:
    op.drop_table("guided_drafts")
