"""posts.revision, deliveries.shown_revision and deliveries.edit_after: editing what was published

Revision ID: 0009
Revises: 0008

An edit of a published post raises ``posts.revision``; each delivery records the revision its message
shows, so the edit worker edits exactly the copies behind (and none twice after a crash or restart).
``edit_after`` is the worker's short claim on a copy and its backoff after a 429 or an outage. Existing
posts are revision 0 and every existing copy shows it: nothing to edit. Plain ``ADD COLUMN`` on both
backends (no batch copy), so SQLite's full-text triggers on ``posts`` (0002) stay as they are.

(Another branch adds its own 0009; the lead renumbers this one at merge.)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("posts", sa.Column("revision", sa.Integer(), server_default=sa.text("0"), nullable=False))
    # The edit worker looks for edited posts (revision > 0) every second: few, found by this index, and
    # their deliveries by ix_deliveries_post_id, never a scan of every delivery.
    op.create_index("ix_posts_revision", "posts", ["revision"])
    op.add_column("deliveries", sa.Column("shown_revision", sa.Integer(), server_default=sa.text("0"), nullable=False))
    op.add_column("deliveries", sa.Column("edit_after", sa.DateTime(), nullable=True))


def downgrade() -> None:
    op.drop_column("deliveries", "edit_after")
    op.drop_column("deliveries", "shown_revision")
    op.drop_index("ix_posts_revision", table_name="posts")
    op.drop_column("posts", "revision")
