"""channels.kind, channels.identity_id, posts.direct: private copies of a post, one per person

Revision ID: 0010
Revises: 0009

A post whose audience is people (``to: department=Sales``, or ``direct`` on a must-read) goes to each
person's private chat with the bot. Each such chat is a channel of kind ``direct`` that belongs to one
identity (a unique index, no reference: SQLite adds one to an existing table only by copying it, and
with foreign keys on, dropping the old ``channels`` would cascade to every delivery and membership), so a
private copy is an ordinary delivery (post × channel) in the outbox. Existing
channels are ``group``; existing posts are not direct: existing data is kept. Plain ``ADD COLUMN``
on both backends, so SQLite's full-text triggers on ``posts`` (0002) stay as they are.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("channels", sa.Column("kind", sa.String(length=8), server_default=sa.text("'group'"), nullable=False))
    op.add_column("channels", sa.Column("identity_id", sa.Integer(), nullable=True))
    op.create_index(op.f("ix_channels_identity_id"), "channels", ["identity_id"], unique=True)
    op.add_column("posts", sa.Column("direct", sa.Boolean(), server_default=sa.text("false"), nullable=False))


def downgrade() -> None:
    op.drop_column("posts", "direct")
    op.drop_index(op.f("ix_channels_identity_id"), table_name="channels")
    op.drop_column("channels", "identity_id")
    op.drop_column("channels", "kind")
