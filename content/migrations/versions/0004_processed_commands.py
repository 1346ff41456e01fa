"""processed commands: a redelivered command runs once

Revision ID: 0004
Revises: 0003

``processed_commands`` holds one row per command event (platform, the platform's event id) that was
claimed to run; see content/processed_commands.py. A new table only: existing data is untouched.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import content.models

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "processed_commands",
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("command", sa.String(length=64), nullable=False),
        sa.Column("actor", sa.String(length=300), nullable=False),
        sa.Column("received_at", content.models.UTCDateTime(), nullable=False),
        sa.Column("finished_at", content.models.UTCDateTime(), nullable=True),
        sa.Column("answer_error", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("platform", "event_id", name=op.f("pk_processed_commands")),
    )


def downgrade() -> None:
    op.drop_table("processed_commands")
