"""posts.paid_broadcast: a post Telegram sends as a paid broadcast

Revision ID: 0008
Revises: 0007

A post with ``paid_broadcast`` is sent on Telegram with ``allow_paid_broadcast`` (up to 1,000
messages/s for a fee in Telegram Stars per message); other platforms ignore it. One column, false for
every existing post: existing data is kept. Added with a plain ``ADD COLUMN`` on both backends, not a
batch copy, so SQLite's full-text triggers on ``posts`` (0002) stay as they are.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("posts", sa.Column("paid_broadcast", sa.Boolean(), server_default=sa.text("false"), nullable=False))


def downgrade() -> None:
    op.drop_column("posts", "paid_broadcast")
