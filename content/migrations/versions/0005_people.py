"""people: directory fields, how an account was linked, one-time link tokens

Revision ID: 0005
Revises: 0004

Employees get ``location`` and ``language``; identities get ``linked_how`` (directory,
workspace_email, sso; NULL for an account that is an employee of its own) and ``linked_at``.
Identities already tied to an employee with an email came from the directory import, so they are
marked ``directory``. ``link_tokens`` holds the one-time ``/link`` links. Existing data is kept.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import content.models

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("employees") as batch:
        batch.add_column(sa.Column("location", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("language", sa.String(length=16), nullable=True))
    with op.batch_alter_table("identities") as batch:
        batch.add_column(sa.Column("linked_how", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("linked_at", content.models.UTCDateTime(), nullable=True))
    op.execute(
        "UPDATE identities SET linked_how = 'directory' WHERE employee_id IN "
        "(SELECT id FROM employees WHERE email IS NOT NULL)"
    )
    op.create_table(
        "link_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("platform", sa.String(length=32), nullable=False),
        sa.Column("platform_user_id", sa.String(length=255), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=False),
        sa.Column("created_at", content.models.UTCDateTime(), nullable=False),
        sa.Column("expires_at", content.models.UTCDateTime(), nullable=False),
        sa.Column("used_at", content.models.UTCDateTime(), nullable=True),
        sa.Column("state", sa.String(length=64), nullable=True),
        sa.Column("nonce", sa.String(length=64), nullable=True),
        sa.Column("code_verifier", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_link_tokens_token_hash")),
        sa.UniqueConstraint("state", name=op.f("uq_link_tokens_state")),
    )


def downgrade() -> None:
    op.drop_table("link_tokens")
    with op.batch_alter_table("identities") as batch:
        batch.drop_column("linked_at")
        batch.drop_column("linked_how")
    with op.batch_alter_table("employees") as batch:
        batch.drop_column("language")
        batch.drop_column("location")
