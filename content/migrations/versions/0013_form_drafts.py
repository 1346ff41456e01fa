"""form drafts: a post composed in the Slack modal waits here for its author's Publish

Revision ID: 0013
Revises: 0012

``form_drafts`` holds one row per previewed draft (content/form_drafts.py): the modal's metadata is too
small for a draft, so it carries the row's token. A new table only: existing data is untouched.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import content.models

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "form_drafts",
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", content.models.UTCDateTime(), nullable=False),
        sa.Column("claimed_at", content.models.UTCDateTime(), nullable=True),
        sa.Column("post_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_form_drafts")),
    )


def downgrade() -> None:
    op.drop_table("form_drafts")
