"""rate_slots, rate_leases: platform rate limits shared by every instance

Revision ID: 0007
Revises: 0006

One row per shared limit (a platform's overall rate, a chat's rate): the generic cell rate's
theoretical arrival time and a pause set by a 429; ``rate_leases`` holds the places of an overall
limit, each free again a period after its last send finished. New tables: existing data is kept.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_slots",
        sa.Column("scope", sa.String(length=300), nullable=False),
        sa.Column("tat", sa.Float(), nullable=False),
        sa.Column("paused_until", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("scope", name=op.f("pk_rate_slots")),
    )
    op.create_table(
        "rate_leases",
        sa.Column("scope", sa.String(length=300), nullable=False),
        sa.Column("place", sa.Integer(), nullable=False),
        sa.Column("free_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "place", name=op.f("pk_rate_leases")),
    )


def downgrade() -> None:
    op.drop_table("rate_leases")
    op.drop_table("rate_slots")
